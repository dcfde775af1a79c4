package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/delivery"
	"github.com/feedbatch/feedbatch/examples"
	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/stages/collect/parse"
)

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startServe runs "feedbatch serve" in-process until the test ends and
// waits until it answers.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	app := newApp()
	// serve prints its URL once its flags are parsed and it listens: reading
	// that line orders the test's next app after this one's setup (urfave/cli
	// writes to the shared command definitions while it parses).
	pr, pw := io.Pipe()
	app.Writer, app.ErrWriter = pw, io.Discard
	go func() {
		done <- app.RunContext(ctx, append([]string{"feedbatch"}, append(args, "serve", "--addr", addr)...))
		pw.Close()
	}()
	ready := make(chan struct{})
	go func() {
		br := bufio.NewReader(pr)
		br.ReadString('\n')
		close(ready)
		io.Copy(io.Discard, br)
	}()
	select {
	case <-ready:
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("serve ended early: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve ended with %v", err)
		}
	})
	for range 100 {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return "http://" + addr + "/"
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("serve does not answer")
	return ""
}

// TestServeExamples runs the collect and feed stages of the bundled
// examples (feedbatch stage, in-process), lists the feeds with "feedbatch
// feeds", fetches each through "feedbatch serve" with Go's HTTP client and
// curl, and reads every fetched feed back with the collect stage's parser:
// as many records as the feed's meta.json counts, the bytes meta.json hashed.
func TestServeExamples(t *testing.T) {
	testtool.Slow(t, "runs the examples end to end")
	dir := t.TempDir()
	reg, err := examples.Extract(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The collect and feed stages of the bundled examples, in-process (the
	// image stage is not needed: feeds keep the catalogs' image links).
	t.Setenv(delivery.EnvPublicHost, "")
	root := dir + "/root"
	if err := os.MkdirAll(root+"/runs/ex", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runAppOut(t, "--root", root, "manifest", "build", "--registry", reg, "--run", "ex", "--out", root+"/runs/ex/manifest.parquet"); code != 0 {
		t.Fatalf("manifest build exit %d: %s", code, errOut)
	}
	for _, stage := range []string{"collect", "feed"} {
		for i := range 5 {
			if _, errOut, code := runAppOut(t, "--root", root, "stage", stage, "--manifest", "runs/ex/manifest.parquet", "--index", fmt.Sprint(i)); code != 0 {
				t.Fatalf("stage %s --index %d exit %d: %s", stage, i, code, errOut)
			}
		}
	}
	base := startServe(t, "--root", root)

	out, errOut, code := runAppOut(t, "--root", root, "feeds", "--json", "--base-url", base)
	if code != 0 {
		t.Fatalf("feeds exit %d: %s", code, errOut)
	}
	var feeds []delivery.FeedInfo
	if err := json.Unmarshal([]byte(out), &feeds); err != nil {
		t.Fatalf("feeds --json: %v\n%s", err, out)
	}
	if len(feeds) < 5 {
		t.Fatalf("only %d feeds published by the examples: %+v", len(feeds), feeds)
	}
	formats := map[string]string{"google": "xml", "meta": "csv", "naver": "tsv"}
	for _, f := range feeds {
		t.Run(f.Shop+"/"+f.Platform, func(t *testing.T) {
			if f.Problem != "" || f.Items <= 0 || f.Bytes <= 0 || f.SHA256 == "" || f.RunID != "ex" {
				t.Errorf("facts %+v", f)
			}
			if want := base + "shops/" + f.Shop + "/feeds/"; !strings.HasPrefix(f.URL, want) {
				t.Errorf("URL %s, want under %s", f.URL, want)
			}
			resp, err := http.Get(f.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET %s: %s %v", f.URL, resp.Status, err)
			}
			if resp.Header.Get("Content-Type") != "application/gzip" || resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" {
				t.Errorf("headers %v", resp.Header)
			}
			if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(body)) != f.Bytes {
				t.Errorf("fetched %d bytes, sha256 %x; meta.json says %d, %s", len(body), sum, f.Bytes, f.SHA256)
			}
			p, det, err := parse.Open(bytes.NewReader(body), parse.Settings{Format: formats[f.Platform]})
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if det.Compressed != "gzip" || det.Encoding != "utf-8" {
				t.Errorf("detected %+v, want gzip UTF-8", det)
			}
			var n int64
			for {
				rec, err := p.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("record %d: %v", n+1, err)
				}
				id, _ := rec.Get("id")
				if id == "" {
					id, _ = rec.Get("g:id")
				}
				if id == "" {
					t.Errorf("record %d without an id: %v", n+1, rec.Names)
				}
				n++
			}
			if n != f.Items {
				t.Errorf("parsed %d records, meta.json counts %d", n, f.Items)
			}
		})
	}

	// Nothing else is served.
	for _, p := range []string{"runs/ex/report.html", "runs/ex/manifest.parquet", "registry/shops.yaml",
		"shops/" + feeds[0].Shop + "/feeds/" + feeds[0].Platform + ".meta.json"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("GET %s: %s, want 404", p, resp.Status)
		}
	}

	// curl, with the ETag it got: 304.
	curl := testtool.Require(t, testtool.Curl)
	hdr, err := exec.CommandContext(t.Context(), curl, "-sS", "--noproxy", "*", "-o", "/dev/null", "-D", "-", feeds[0].URL).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	var etag string
	for _, l := range strings.Split(string(hdr), "\r\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, "etag") {
			etag = v
		}
	}
	code304, err := exec.CommandContext(t.Context(), curl, "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
		"-H", "If-None-Match: "+etag, feeds[0].URL).Output()
	if err != nil || string(code304) != "304" {
		t.Errorf("curl If-None-Match %s: %s %v", etag, code304, err)
	}

	// The table for people names every URL.
	out, _, code = runAppOut(t, "--root", root, "feeds", "--base-url", base)
	if code != 0 {
		t.Fatalf("feeds exit %d", code)
	}
	for _, f := range feeds {
		if !strings.Contains(out, f.URL) {
			t.Errorf("feeds table lacks %s:\n%s", f.URL, out)
		}
	}
	if !strings.Contains(out, "SHOP") || !strings.Contains(out, "ITEMS") {
		t.Errorf("feeds table:\n%s", out)
	}
}

func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"serve", "--addr", ":8080"}, nil, "not a loopback address"},
		{[]string{"serve", "--addr", "0.0.0.0:8080"}, nil, "not a loopback address"},
		{[]string{"serve", "--addr", "192.0.2.1:8080"}, nil, "--allow-remote"},
		{[]string{"serve", "--addr", "nohost"}, nil, "want host:port"},
		{[]string{"serve", "--user", "u"}, nil, "FEEDBATCH_SERVE_PASSWORD"},
		{[]string{"feeds", "--base-url", "ftp://x/"}, nil, "absolute http(s) URL"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, errOut, code := runAppOut(t, append([]string{"--root", t.TempDir()}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want usage error naming %q", code, errOut, tc.want)
			}
		})
	}
	for _, a := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		if err := checkServeAddr(a, false); err != nil {
			t.Errorf("checkServeAddr(%q): %v", a, err)
		}
	}
	if err := checkServeAddr("0.0.0.0:0", true); err != nil {
		t.Errorf("--allow-remote refused: %v", err)
	}
}

// TestServeBasicAuth: feedbatch serve with credentials from flag and
// environment asks for them on feeds.
func TestServeBasicAuth(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(root+"/shops/s1/feeds", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root+"/shops/s1/feeds/google.xml.gz", []byte("\x1f\x8bfeed"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := startServe(t, "--root", root)
	t.Setenv("FEEDBATCH_SERVE_USER", "gmc")
	t.Setenv("FEEDBATCH_SERVE_PASSWORD", "pw")
	authBase := startServe(t, "--root", root)
	for _, tc := range []struct {
		url, user, pass string
		want            int
	}{
		{base + "shops/s1/feeds/google.xml.gz", "", "", 200},
		{authBase + "shops/s1/feeds/google.xml.gz", "", "", 401},
		{authBase + "shops/s1/feeds/google.xml.gz", "gmc", "nope", 401},
		{authBase + "shops/s1/feeds/google.xml.gz", "gmc", "pw", 200},
	} {
		req, _ := http.NewRequest("GET", tc.url, nil)
		if tc.user != "" {
			req.SetBasicAuth(tc.user, tc.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s as %q: %s, want %d", tc.url, tc.user, resp.Status, tc.want)
		}
	}
}
