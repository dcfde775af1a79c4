package source

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/stages"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

func testFetcher() *Fetcher {
	return &Fetcher{AllowNets: loopback, Backoff: time.Millisecond, Attempts: 3}
}

func TestHTTPRetriesThen200(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "id,title\n")
	}))
	defer srv.Close()
	f, err := testFetcher().Fetch(t.Context(), srv.URL+"/feed.csv", Validators{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Body.Close()
	b, _ := io.ReadAll(f.Body)
	if string(b) != "id,title\n" || f.Validators.ETag != `"v1"` || calls.Load() != 3 {
		t.Fatalf("body %q etag %q calls %d", b, f.Validators.ETag, calls.Load())
	}
}

func TestHTTPGivesUpOn5xx(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	_, err := testFetcher().Fetch(t.Context(), srv.URL+"/x?token=secret", Validators{})
	if err == nil || errors.Is(err, stages.ErrPermanent) {
		t.Fatalf("err = %v; want a retryable error", err)
	}
	if calls.Load() != 3 {
		t.Errorf("calls = %d, want 3", calls.Load())
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error leaks the query: %v", err)
	}
}

func TestHTTPPermanent(t *testing.T) {
	for _, code := range []int{404, 410, 403, 400} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(code)
			}))
			defer srv.Close()
			_, err := testFetcher().Fetch(t.Context(), srv.URL+"/gone.csv", Validators{})
			if !errors.Is(err, stages.ErrPermanent) {
				t.Fatalf("err = %v; want permanent", err)
			}
			if calls.Load() != 1 {
				t.Errorf("calls = %d, want 1 (no retry)", calls.Load())
			}
		})
	}
}

func TestHTTPConditional(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` && r.Header.Get("If-Modified-Since") == "Mon, 23 Nov 2026 00:00:00 GMT" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 23 Nov 2026 00:00:00 GMT")
		io.WriteString(w, "x")
	}))
	defer srv.Close()
	u := srv.URL + "/c.csv"
	f, err := testFetcher().Fetch(t.Context(), u, Validators{})
	if err != nil || f.NotModified {
		t.Fatalf("first fetch: %+v %v", f, err)
	}
	f.Body.Close()
	f2, err := testFetcher().Fetch(t.Context(), u, f.Validators)
	if err != nil || !f2.NotModified || f2.Body != nil {
		t.Fatalf("second fetch: %+v %v; want not modified", f2, err)
	}
	// Validators of another URL are not sent.
	f3, err := testFetcher().Fetch(t.Context(), u+"?other", f.Validators)
	if err != nil || f3.NotModified {
		t.Fatalf("other URL: %+v %v", f3, err)
	}
	f3.Body.Close()
}

func TestDefaultClientRefusesLoopbackHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("request reached the server")
	}))
	defer srv.Close()
	_, err := (&Fetcher{Attempts: 1}).Fetch(t.Context(), srv.URL, Validators{})
	if !errors.Is(err, stages.ErrPermanent) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err = %v; want a permanent refusal", err)
	}
}

// TestSSRFDialRefusals checks the default client's dialer against special
// addresses. The dials must not leave the machine, so the test runs inside
// its own network namespace (unshare -rn) where only lo exists; it re-runs
// this test binary there.
func TestSSRFDialRefusals(t *testing.T) {
	if os.Getenv("FEEDBATCH_IN_NETNS") != "1" {
		unshare := testtool.Require(t, testtool.Unshare)
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), unshare, "-rn", "sh", "-c",
			`ip link set lo up 2>/dev/null || true; exec "$0" -test.run='^TestSSRFDialRefusals$' -test.v`, exe)
		cmd.Env = append(os.Environ(), "FEEDBATCH_IN_NETNS=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in namespace:\n%s", out)
		if err != nil {
			t.Fatalf("namespace run failed: %v", err)
		}
		return
	}
	for _, addr := range []string{"127.0.0.1", "169.254.169.254", "10.0.0.1", "192.168.1.1", "172.16.0.1", "[::1]", "0.0.0.0", "100.64.0.1"} {
		t.Run(addr, func(t *testing.T) {
			_, err := NewHTTPClient(nil).Get("http://" + addr + ":8080/catalog.csv")
			if err == nil || !strings.Contains(err.Error(), "prohibited") {
				t.Fatalf("GET %s: err = %v; want a prohibited-address refusal", addr, err)
			}
		})
	}
	// With the address allowed, the dial is attempted (and here refused by
	// the empty namespace, not by the guard).
	_, err := NewHTTPClient(loopback).Get("http://127.0.0.1:1/x")
	if err == nil || strings.Contains(err.Error(), "prohibited") {
		t.Fatalf("allowed address: err = %v; want a plain connection error", err)
	}
}

func TestFileSource(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.csv")
	os.WriteFile(p, []byte("a\n"), 0o644)
	f, err := (&Fetcher{}).Fetch(t.Context(), "file://"+p, Validators{})
	if err != nil {
		t.Fatal(err)
	}
	f.Body.Close()
	f2, err := (&Fetcher{}).Fetch(t.Context(), "file://"+p, f.Validators)
	if err != nil || !f2.NotModified {
		t.Fatalf("unchanged file: %+v %v", f2, err)
	}
	f3, err := (&Fetcher{}).Fetch(t.Context(), p, Validators{})
	if err != nil || f3.Body == nil {
		t.Fatalf("absolute path: %+v %v", f3, err)
	}
	f3.Body.Close()
	_, err = (&Fetcher{}).Fetch(t.Context(), "file://"+p+".missing", Validators{})
	if !errors.Is(err, stages.ErrPermanent) {
		t.Fatalf("missing file: %v", err)
	}
	for _, u := range []string{"ftp://x/y", "nothing", "s3://bucket"} {
		if _, err := (&Fetcher{}).Fetch(t.Context(), u, Validators{}); !errors.Is(err, stages.ErrPermanent) {
			t.Errorf("%s: err = %v; want permanent", u, err)
		}
	}
}

func TestArrayText(t *testing.T) {
	for in, want := range map[string]string{
		`{a,b}`:               "a,b",
		`{"x y","q\"r",NULL}`: `x y,q"r,`,
		`{}`:                  "",
		`plain`:               "plain",
	} {
		if got := arrayText(in); got != want {
			t.Errorf("arrayText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHTTPIdleBody(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "id,title\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	f := testFetcher()
	f.IdleTimeout = 50 * time.Millisecond
	got, err := f.Fetch(t.Context(), srv.URL+"/slow.csv", Validators{})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	_, err = io.ReadAll(got.Body)
	if err == nil || !strings.Contains(err.Error(), "no data for") {
		t.Fatalf("err = %v; want an idle timeout", err)
	}
}
