package source

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/internal/secret"
)

// TestSourceCredentialsResolvedNotLeaked: a source URL names its API key
// (${env:...}); the request carries the value, but neither the error of a
// failing fetch (HTTP 5xx, then a network error, whose net/http message
// holds the URL) nor the retry log nor the validators do.
func TestSourceCredentialsResolvedNotLeaked(t *testing.T) {
	const planted = "pl4ntedApiKey"
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Query().Get("api_key"))
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	res := &secret.Resolver{LookupEnv: func(k string) (string, bool) { return planted, k == "FEEDBATCH_SECRET_SHOP_KEY" }}
	for _, base := range []string{srv.URL, closed} {
		var logs bytes.Buffer
		f := testFetcher()
		f.Secrets = res
		f.Log = slog.New(slog.NewTextHandler(&logs, nil))
		raw := base + "/feed.csv?api_key=${env:FEEDBATCH_SECRET_SHOP_KEY}&page=1"
		_, err := f.Fetch(t.Context(), raw, Validators{})
		if err == nil {
			t.Fatalf("%s: no error", base)
		}
		for what, s := range map[string]string{"error": err.Error(), "log": logs.String()} {
			if strings.Contains(s, planted) {
				t.Errorf("%s: %s holds the key: %s", base, what, s)
			}
		}
		if !strings.Contains(err.Error(), "api_key=${env:FEEDBATCH_SECRET_SHOP_KEY}") {
			t.Errorf("%s: error does not name the reference: %v", base, err)
		}
	}
	if len(got) == 0 || got[0] != planted {
		t.Errorf("server saw api_key %q, want the resolved value", got)
	}
	f := testFetcher()
	f.Secrets = &secret.Resolver{LookupEnv: func(string) (string, bool) { return "", false }}
	if _, err := f.Fetch(t.Context(), srv.URL+"/?api_key=${env:NOPE}", Validators{}); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("unset variable: %v", err)
	}
}
