package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// loopbackConfig lets the client reach httptest servers on 127.0.0.1.
func loopbackConfig() Config {
	return Config{
		AnyPort:       true,
		Allow:         []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		MaxBytes:      1000,
		HeaderTimeout: 1 * time.Second,
		TotalTimeout:  2 * time.Second,
		MaxRedirects:  2,
	}
}

func TestGet(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 23 Nov 2026 00:00:00 GMT")
		fmt.Fprint(w, "hello")
	})
	mux.HandleFunc("/lm", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-Modified-Since") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprint(w, "x")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5000")
		w.Write(make([]byte, 5000))
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 5 {
			w.Write(make([]byte, 500))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/slow-header", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("x"))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // trickles forever
	})
	mux.HandleFunc("/redirect/", func(w http.ResponseWriter, r *http.Request) {
		n := strings.TrimPrefix(r.URL.Path, "/redirect/")
		if n == "0" {
			http.Redirect(w, r, "/ok", http.StatusFound)
			return
		}
		var k int
		fmt.Sscan(n, &k)
		http.Redirect(w, r, fmt.Sprintf("/redirect/%d", k-1), http.StatusFound)
	})
	mux.HandleFunc("/to-ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://127.0.0.1/x", http.StatusFound)
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := New(loopbackConfig())

	tests := []struct {
		name          string
		path          string
		v             Validators
		wantBody      string
		wantNotMod    bool
		wantReason    string
		wantTransient bool
	}{
		{name: "200", path: "/ok", wantBody: "hello"},
		{name: "304 by etag", path: "/ok", v: Validators{ETag: `"v1"`}, wantNotMod: true},
		{name: "304 by last-modified", path: "/lm", v: Validators{LastModified: "Mon, 23 Nov 2026 00:00:00 GMT"}, wantNotMod: true},
		{name: "404", path: "/nope", wantReason: "http_404"},
		{name: "500 transient", path: "/500", wantReason: "http_500", wantTransient: true},
		{name: "too large by length", path: "/big", wantReason: ReasonTooLarge},
		{name: "too large chunked", path: "/big-chunked", wantReason: ReasonTooLarge},
		{name: "slow header", path: "/slow-header", wantReason: ReasonTimeout, wantTransient: true},
		{name: "slow body", path: "/slow-body", wantReason: ReasonTimeout, wantTransient: true},
		{name: "two redirects", path: "/redirect/1", wantBody: "hello"},
		{name: "too many redirects", path: "/redirect/5", wantReason: ReasonRedirects},
		{name: "redirect to ftp", path: "/to-ftp", wantReason: ReasonBadURL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Get(t.Context(), srv.URL+tc.path, tc.v)
			if tc.wantReason != "" {
				fe, ok := errors.AsType[*Error](err)
				if !ok {
					t.Fatalf("err = %v, want reason %s", err, tc.wantReason)
				}
				if diff := cmp.Diff([2]any{tc.wantReason, tc.wantTransient}, [2]any{fe.Reason, fe.Transient}); diff != "" {
					t.Fatalf("reason, transient (-want +got):\n%s\n%v", diff, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([2]any{tc.wantBody, tc.wantNotMod}, [2]any{string(resp.Body), resp.NotModified}); diff != "" {
				t.Errorf("body, not modified (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBadURLs(t *testing.T) {
	c := New(Config{})
	for _, u := range []string{"ftp://example.com/a.jpg", "file:///etc/passwd", "gopher://x", "/relative.jpg", "http:///nohost", "://bad"} {
		t.Run(u, func(t *testing.T) {
			_, err := c.Get(t.Context(), u, Validators{})
			if got := Reason(err); got != ReasonBadURL {
				t.Fatalf("reason %q (%v), want %s", got, err, ReasonBadURL)
			}
		})
	}
}
