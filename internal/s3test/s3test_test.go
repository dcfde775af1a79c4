package s3test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/feedbatch/feedbatch/store"
)

func TestStartGivesFreshBuckets(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Bucket == b.Bucket {
		t.Fatalf("two Start calls gave the same bucket %q", a.Bucket)
	}
	if !strings.HasPrefix(a.Endpoint, "http://127.0.0.1:") {
		t.Errorf("endpoint %q is not on loopback", a.Endpoint)
	}
	out, err := a.Client().ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &a.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 0 {
		t.Errorf("fresh bucket has %d objects", len(out.Contents))
	}
}

func TestNewStore(t *testing.T) {
	st := NewStore(t)
	if err := st.Put(t.Context(), "k", strings.NewReader("v"), &store.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), "k", strings.NewReader("v"), &store.PutOptions{IfAbsent: true}); !errors.Is(err, store.ErrExists) {
		t.Errorf("second IfAbsent Put: %v, want ErrExists", err)
	}
}

// TestEachServer starts every server kind that is installed here.
func TestEachServer(t *testing.T) {
	for _, kind := range []string{"versitygw", "moto"} {
		t.Run(kind, func(t *testing.T) {
			t.Setenv("FEEDBATCH_S3TEST_SERVER", kind)
			if kind == "versitygw" && findVersityGW() == "" {
				t.Skip("versitygw not installed (.ci/install-s3server.sh)")
			}
			srv := Start(t)
			if srv.Kind != kind {
				t.Fatalf("got %s, want %s", srv.Kind, kind)
			}
		})
	}
}
