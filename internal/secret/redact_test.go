package secret_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/internal/secret"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://shop.example/feed.csv", "https://shop.example/feed.csv"},
		{"https://shop.example/feed.csv?api_key=s3cr3t&page=2", "https://shop.example/feed.csv?api_key=REDACTED&page=2"},
		{"https://shop.example/f?API-KEY=a;token=b#access_token=c", "https://shop.example/f?API-KEY=REDACTED;token=REDACTED#access_token=REDACTED"},
		{"https://shop.example/f?api%5Fkey=a", "https://shop.example/f?api%5Fkey=REDACTED"},
		{"postgres://feedbatch:hunter2@db:5432/shops?table=t", "postgres://feedbatch:REDACTED@db:5432/shops?table=t"},
		{"postgres://feedbatch:p@ss@db/x", "postgres://feedbatch:REDACTED@db/x"},
		{"postgres://postgres@127.0.0.1/test", "postgres://postgres@127.0.0.1/test"},
		{"postgres://u:${env:PG_PASS}@db/x?password=${ssm:/a/b}", "postgres://u:${env:PG_PASS}@db/x?password=${ssm:/a/b}"},
		{"https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F&X-Amz-Signature=abc&X-Amz-Date=1", "https://b.s3.amazonaws.com/k?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Date=1"},
		{"https://h/%zz?key=v", "https://h/%zz?key=REDACTED"},
		{"/no/scheme?secret=x", "/no/scheme?secret=REDACTED"},
		{"https://h/p?key=", "https://h/p?key="},
		{"https://h/p?monkey=banana", "https://h/p?monkey=banana"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := secret.Redact(tc.in); got != tc.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedactText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`Get "https://shop.example/x?api_key=k1": dial tcp: refused`, `Get "https://shop.example/x?api_key=REDACTED": dial tcp: refused`},
		{"connect host=db user=u password=pw1 dbname=x", "connect host=db user=u password=REDACTED dbname=x"},
		{"two: http://a:b@h/ and s3://bucket/k?sig=zz.", "two: http://a:REDACTED@h/ and s3://bucket/k?sig=REDACTED"},
		{"plain message, no secrets", "plain message, no secrets"},
	} {
		if got := secret.RedactText(tc.in); got != tc.want {
			t.Errorf("RedactText(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestErrorKeepsChain(t *testing.T) {
	inner := &url.Error{Op: "Get", URL: "https://h/x?token=t0k", Err: errors.New("connection refused")}
	err := secret.Error(inner)
	if strings.Contains(err.Error(), "t0k") {
		t.Errorf("secret in %q", err)
	}
	if _, ok := errors.AsType[*url.Error](err); !ok {
		t.Error("errors.As lost the *url.Error")
	}
	if secret.Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(secret.Handler(slog.NewTextHandler(&buf, nil))).With("dsn", "postgres://u:pw0@h/d")
	log.Info("fetch https://h/?apikey=k0 failed", "err", errors.New("GET https://h/?apikey=k1"),
		slog.Group("g", "url", "https://u:pw2@h/"), "n", 3)
	out := buf.String()
	for _, s := range []string{"pw0", "k0", "k1", "pw2"} {
		if strings.Contains(out, s) {
			t.Errorf("log line holds %q: %s", s, out)
		}
	}
	if !strings.Contains(out, "n=3") {
		t.Errorf("log line lost an attribute: %s", out)
	}
}

// FuzzRedact: Redact never panics, is idempotent, and a planted value in a
// password or a secret query parameter never survives.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"https://h/p?api_key=x", "postgres://u:p@h/d", "://@?#&;=", "${env:A}", "https://h?key=${env:K}&x=1"} {
		f.Add(s, "plantedSecret")
	}
	f.Fuzz(func(t *testing.T, raw, v string) {
		once := secret.Redact(raw)
		if twice := secret.Redact(once); twice != once {
			t.Errorf("not idempotent: %q -> %q -> %q", raw, once, twice)
		}
		if len(v) < 4 || strings.ContainsAny(v, "/?#@&;=:%${}") {
			return
		}
		for _, u := range []string{"https://u:" + v + "@h/p", "https://h/p?x=1&api_key=" + v} {
			if got := secret.Redact(u); strings.Contains(got, v) {
				t.Errorf("Redact(%q) = %q keeps the secret", u, got)
			}
		}
	})
}
