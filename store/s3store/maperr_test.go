package s3store

import (
	"errors"
	"net/http"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/feedbatch/feedbatch/store"
)

func TestMapErr(t *testing.T) {
	httpErr := func(status int, code string) error {
		var err error = &smithy.GenericAPIError{Code: code, Message: "m"}
		return &smithy.OperationError{ServiceID: "S3", OperationName: "Op", Err: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      err,
		}}
	}
	other := errors.New("connection refused")
	tests := []struct {
		name string
		err  error
		want error // sentinel, or nil for none
		msg  string
	}{
		{"no such key", httpErr(404, "NoSuchKey"), store.ErrNotFound, "store: not found (S3 NoSuchKey)"},
		{"head 404", httpErr(404, "NotFound"), store.ErrNotFound, "store: not found (S3 NotFound)"},
		{"bare 404", httpErr(404, ""), store.ErrNotFound, "store: not found (S3 Not Found)"},
		{"no such bucket", httpErr(404, "NoSuchBucket"), nil, ""},
		{"precondition", httpErr(412, "PreconditionFailed"), store.ErrExists, "store: already exists (S3 PreconditionFailed)"},
		{"conflict", httpErr(409, "ConditionalRequestConflict"), store.ErrExists, "store: already exists (S3 ConditionalRequestConflict)"},
		{"bare 412", httpErr(412, ""), store.ErrExists, "store: already exists (S3 Precondition Failed)"},
		{"access denied", httpErr(403, "AccessDenied"), nil, ""},
		{"network", other, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mapErr(tc.err)
			if !errors.Is(got, tc.err) {
				t.Errorf("mapErr lost the original error: %v", got)
			}
			for _, s := range []error{store.ErrNotFound, store.ErrExists} {
				if errors.Is(got, s) != (s == tc.want) {
					t.Errorf("errors.Is(mapErr(%v), %v) = %v", tc.err, s, !(s == tc.want))
				}
			}
			if tc.msg != "" && got.Error() != tc.msg {
				t.Errorf("message %q, want %q", got.Error(), tc.msg)
			}
		})
	}
}
