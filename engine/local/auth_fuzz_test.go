package local

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// FuzzVerifySignature: the Authorization and X-Amz-Date headers come from
// anyone who reaches the port. Whatever they hold, the check never panics
// and never accepts a request that was not signed with the secret.
func FuzzVerifySignature(f *testing.F) {
	creds := aws.Credentials{AccessKeyID: "AKFBTEST", SecretAccessKey: "secret"}
	for _, s := range []struct{ authz, date, host string }{
		{"AWS4-HMAC-SHA256 Credential=AKFBTEST/20261202/us-east-1/batch/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20261202T120000Z", "127.0.0.1:1"},
		{"AWS4-HMAC-SHA256 Credential=AKFBTEST/20261202/us-east-1/batch/aws4_request,SignedHeaders=,Signature=", "20261202T120000Z", "localhost"},
		{"AWS4-HMAC-SHA256 Credential=AKFBTEST//////, SignedHeaders=host, Signature=zz", "x", "[::1]:9"},
		{"AWS4-HMAC-SHA256 ", "", ""},
		{"Basic dXNlcjpwYXNz", "", "evil.example"},
	} {
		f.Add(s.authz, s.date, s.host, "/v1/submitjob", "{}")
	}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, authz, date, host, path, body string) {
		req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Host = host
		req.Header.Set("Authorization", authz)
		req.Header.Set("X-Amz-Date", date)
		if verifySignature(req, []byte(body), creds, now) == nil {
			t.Fatalf("accepted an unsigned request: %q %q", authz, date)
		}
		_ = checkOrigin(req, false)
	})
}
