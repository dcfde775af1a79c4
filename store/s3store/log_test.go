package s3store

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/smithy-go/logging"
)

// TestSDKLogGoesToLog: the SDK's own messages reach Config.Log at debug
// level (never the SDK's default stderr logger), and are dropped without a
// Log.
func TestSDKLogGoesToLog(t *testing.T) {
	tests := []struct {
		name string
		log  bool
		want string
	}{
		{"to the logger", true, `level=DEBUG msg="falling back to IMDSv1: 403" source=aws-sdk class=WARN`},
		{"dropped", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			cfg := Config{Bucket: "b", Endpoint: "http://127.0.0.1:1"}
			if tc.log {
				cfg.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			}
			st, err := New(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			st.client.Options().Logger.Logf(logging.Warn, "falling back to IMDSv1: %d", 403)
			if got := strings.TrimSpace(buf.String()); !strings.Contains(got, tc.want) || (tc.want == "" && got != "") {
				t.Errorf("log = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}
