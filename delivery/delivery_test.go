package delivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/filestore"
	"github.com/feedbatch/feedbatch/store/memstore"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want Kind
	}{
		{"shops/s1/feeds/google.xml.gz", Feed},
		{"shops/s1/feeds/naver.tsv.gz", Feed},
		{"shops/s1/images/3fa9c2.jpg", Image},
		{"shops/s1/images/3fa9c2.JPG", Image},
		{"shops/s1/images/3fa9c2.webp", Image},
		{"shops/s1/feeds/google.meta.json", Private},
		{"shops/s1/feeds/.gz", Private},
		{"shops/s1/feeds/.hidden.gz", Private},
		{"shops/s1/feeds/sub/google.xml.gz", Private},
		{"shops/s1/images/index.jsonl.gz", Private},
		{"shops/s1/images/a.svg", Private},
		{"shops/s1/catalog/2026-11-23.parquet", Private},
		{"shops/s1/source.json", Private},
		{"runs/2026-11-23/manifest.parquet", Private},
		{"runs/2026-11-23/report.html", Private},
		{"registry/shops.yaml", Private},
		{"shops/../runs/x/feeds/a.gz", Private},
		{"shops/s1/../feeds/a.gz", Private},
		{"shops//feeds/a.gz", Private},
		{"/shops/s1/feeds/a.gz", Private},
		{"", Private},
	} {
		if got := Classify(tc.key); got != tc.want {
			t.Errorf("Classify(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestHeadersFor(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want Headers
	}{
		{"shops/s1/feeds/google.xml.gz", Headers{ContentType: "application/gzip", CacheControl: "public, max-age=300, must-revalidate"}},
		{"shops/s1/images/ab.jpg", Headers{ContentType: "image/jpeg", CacheControl: "public, max-age=31536000, immutable"}},
		{"shops/s1/images/ab.png", Headers{ContentType: "image/png", CacheControl: "public, max-age=31536000, immutable"}},
	} {
		got, ok := HeadersFor(tc.key)
		if !ok || got != tc.want {
			t.Errorf("HeadersFor(%q) = %+v, %v; want %+v", tc.key, got, ok, tc.want)
		}
		po := PutOptions(tc.key)
		if po == nil || po.ContentType != tc.want.ContentType || po.CacheControl != tc.want.CacheControl || po.ContentEncoding != "" || po.IfAbsent {
			t.Errorf("PutOptions(%q) = %+v", tc.key, po)
		}
	}
	if _, ok := HeadersFor("runs/x/report.html"); ok || PutOptions("runs/x/report.html") != nil {
		t.Error("a private key has delivery headers")
	}
}

// countingStore counts the ranged reads Handler makes.
type countingStore struct {
	store.Store
	ranges atomic.Int64
}

func (c *countingStore) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	c.ranges.Add(1)
	return c.Store.GetRange(ctx, key, off, n)
}

// feedBody is larger than ServeContent's copy buffer, so a whole-object
// GET that took one ranged read per buffer would show up in the count.
var feedBody = bytes.Repeat([]byte("0123456789abcdef"), 16<<10)

const (
	feedKey  = "shops/s1/feeds/google.xml.gz"
	imageKey = "shops/s1/images/3fa9c2.jpg"
)

func fill(t *testing.T, st store.Store) {
	t.Helper()
	for key, body := range map[string][]byte{
		feedKey:                           feedBody,
		imageKey:                          []byte("\xff\xd8\xff jpeg"),
		"shops/s1/feeds/google.meta.json": []byte(`{"count":3}`),
		"shops/s1/catalog/run.parquet":    []byte("PAR1"),
		"runs/2026-11-23/report.html":     []byte("<html>"),
		"registry/shops.yaml":             []byte("shops: []"),
		"shops/s1/images/index.jsonl.gz":  []byte("x"),
	} {
		if err := st.Put(t.Context(), key, bytes.NewReader(body), PutOptions(key)); err != nil {
			t.Fatal(err)
		}
	}
}

func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"mem": func(t *testing.T) store.Store { return memstore.New() },
		"file": func(t *testing.T) store.Store {
			st, err := filestore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
		"s3": func(t *testing.T) store.Store { return s3test.NewStore(t) },
	}
}

func do(t *testing.T, method, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// The transport must not ask for gzip: the test reads the bytes as sent.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestHandler(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			cs := &countingStore{Store: newStore(t)}
			fill(t, cs.Store)
			srv := httptest.NewServer(&Handler{Store: cs})
			t.Cleanup(srv.Close)

			resp, body := do(t, "GET", srv.URL+"/"+feedKey, nil)
			if resp.StatusCode != 200 || !bytes.Equal(body, feedBody) {
				t.Fatalf("GET feed: %s, %d bytes", resp.Status, len(body))
			}
			if n := cs.ranges.Load(); n != 1 {
				t.Errorf("GET feed made %d store reads, want 1", n)
			}
			want := map[string]string{
				"Content-Type":     "application/gzip",
				"Content-Encoding": "",
				"Cache-Control":    FeedCacheControl,
				"Accept-Ranges":    "bytes",
				"Content-Length":   fmt.Sprint(len(feedBody)),
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("feed %s = %q, want %q", k, got, v)
				}
			}
			etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
			if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 3 {
				t.Errorf("ETag %q, want a quoted entity tag", etag)
			}
			if _, err := http.ParseTime(lm); err != nil {
				t.Errorf("Last-Modified %q: %v", lm, err)
			}

			resp, body = do(t, "HEAD", srv.URL+"/"+feedKey, nil)
			if resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("ETag") != etag || resp.ContentLength != int64(len(feedBody)) {
				t.Errorf("HEAD: %s, %d body bytes, ETag %q, length %d", resp.Status, len(body), resp.Header.Get("ETag"), resp.ContentLength)
			}

			for _, hdr := range []map[string]string{
				{"If-None-Match": etag},
				{"If-None-Match": `"other", ` + etag},
				{"If-Modified-Since": lm},
			} {
				resp, body = do(t, "GET", srv.URL+"/"+feedKey, hdr)
				if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
					t.Errorf("GET %v: %s, %d bytes; want 304", hdr, resp.Status, len(body))
				}
			}
			resp, _ = do(t, "GET", srv.URL+"/"+feedKey, map[string]string{"If-None-Match": `"stale"`})
			if resp.StatusCode != 200 {
				t.Errorf("GET with a stale ETag: %s, want 200", resp.Status)
			}

			resp, body = do(t, "GET", srv.URL+"/"+feedKey, map[string]string{"Range": "bytes=100-199"})
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, feedBody[100:200]) ||
				resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-199/%d", len(feedBody)) {
				t.Errorf("Range: %s %q, %d bytes", resp.Status, resp.Header.Get("Content-Range"), len(body))
			}
			resp, body = do(t, "GET", srv.URL+"/"+feedKey, map[string]string{"Range": "bytes=-10"})
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, feedBody[len(feedBody)-10:]) {
				t.Errorf("suffix Range: %s, %d bytes", resp.Status, len(body))
			}
			resp, _ = do(t, "GET", srv.URL+"/"+feedKey, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(feedBody)+5)})
			if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
				t.Errorf("unsatisfiable Range: %s, want 416", resp.Status)
			}

			resp, body = do(t, "GET", srv.URL+"/"+imageKey, nil)
			if resp.StatusCode != 200 || string(body) != "\xff\xd8\xff jpeg" ||
				resp.Header.Get("Content-Type") != "image/jpeg" || resp.Header.Get("Cache-Control") != ImageCacheControl {
				t.Errorf("GET image: %s %q %q", resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
			}

			for _, p := range []string{
				"/shops/s1/feeds/google.meta.json", "/shops/s1/catalog/run.parquet",
				"/runs/2026-11-23/report.html", "/registry/shops.yaml", "/shops/s1/images/index.jsonl.gz",
				"/shops/s1/feeds/meta.csv.gz", "/", "/shops/s1/feeds/", "/shops/s1/feeds/../../../runs/2026-11-23/report.html",
				"/shops/s1/feeds/%2e%2e/catalog/run.parquet", "//shops/s1/feeds/google.xml.gz",
			} {
				resp, body = do(t, "GET", srv.URL+p, nil)
				if resp.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte("PAR1")) || bytes.Contains(body, []byte("<html>")) {
					t.Errorf("GET %s: %s, want 404", p, resp.Status)
				}
			}
			resp, _ = do(t, "POST", srv.URL+"/"+feedKey, nil)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("POST: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
			}
		})
	}
}

// TestHandlerSeesReplacement: after a publish the next fetch gets the new
// feed, and the old ETag no longer gives 304.
func TestHandlerSeesReplacement(t *testing.T) {
	st := memstore.New()
	fill(t, st)
	srv := httptest.NewServer(&Handler{Store: st})
	t.Cleanup(srv.Close)
	resp, _ := do(t, "GET", srv.URL+"/"+feedKey, nil)
	old := resp.Header.Get("ETag")
	time.Sleep(10 * time.Millisecond)
	if err := st.Put(t.Context(), feedKey, strings.NewReader("new feed"), PutOptions(feedKey)); err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, "GET", srv.URL+"/"+feedKey, map[string]string{"If-None-Match": old})
	if resp.StatusCode != 200 || string(body) != "new feed" || resp.Header.Get("ETag") == old {
		t.Errorf("after replace: %s %q ETag %q (old %q)", resp.Status, body, resp.Header.Get("ETag"), old)
	}
}

func TestHandlerBasicAuth(t *testing.T) {
	st := memstore.New()
	fill(t, st)
	srv := httptest.NewServer(&Handler{Store: st, Auth: Auth{User: "gmc", Password: "s3cret"}})
	t.Cleanup(srv.Close)
	get := func(path, user, pass string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		path, user, pass string
		want             int
	}{
		{"/" + feedKey, "", "", 401},
		{"/" + feedKey, "gmc", "wrong", 401},
		{"/" + feedKey, "other", "s3cret", 401},
		{"/" + feedKey, "gmc", "s3cret", 200},
		{"/" + imageKey, "", "", 200},
		{"/runs/2026-11-23/report.html", "gmc", "s3cret", 404},
	} {
		resp := get(tc.path, tc.user, tc.pass)
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s as %q/%q: %s, want %d", tc.path, tc.user, tc.pass, resp.Status, tc.want)
		}
		if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
		}
	}
}

// TestCurl fetches through curl, an independent HTTP client: a full GET,
// a conditional GET (304), a range, and basic auth.
func TestCurl(t *testing.T) {
	curl := testtool.Require(t, testtool.Curl)
	st := memstore.New()
	fill(t, st)
	srv := httptest.NewServer(&Handler{Store: st, Auth: Auth{User: "meta", Password: "pw"}})
	t.Cleanup(srv.Close)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), curl, append([]string{"-sS", "--noproxy", "*"}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v", args, err)
		}
		return string(out)
	}
	dir := t.TempDir()
	out := run("-u", "meta:pw", "-o", dir+"/feed.gz", "-D", "-", "-w", "%{http_code}", srv.URL+"/"+feedKey)
	b, _ := os.ReadFile(dir + "/feed.gz")
	if !strings.HasSuffix(out, "200") || sha256.Sum256(b) != sha256.Sum256(feedBody) {
		t.Fatalf("curl GET: %q, %d bytes", out, len(b))
	}
	var etag string
	for _, l := range strings.Split(out, "\r\n") {
		if v, ok := strings.CutPrefix(strings.ToLower(l), "etag: "); ok {
			etag = l[len(l)-len(v):]
		}
	}
	if etag == "" {
		t.Fatalf("no ETag in %q", out)
	}
	if code := run("-u", "meta:pw", "-o", "/dev/null", "-w", "%{http_code}", "-H", "If-None-Match: "+etag, srv.URL+"/"+feedKey); code != "304" {
		t.Errorf("curl If-None-Match: %s, want 304", code)
	}
	if got := run("-u", "meta:pw", "-r", "0-9", srv.URL+"/"+feedKey); got != string(feedBody[:10]) {
		t.Errorf("curl range: %q", got)
	}
	if code := run("-o", "/dev/null", "-w", "%{http_code}", srv.URL+"/"+feedKey); code != "401" {
		t.Errorf("curl without credentials: %s, want 401", code)
	}
	if code := run("-o", "/dev/null", "-w", "%{http_code}", "--path-as-is", srv.URL+"/shops/s1/feeds/../../../registry/shops.yaml"); code != "404" {
		t.Errorf("curl path traversal: %s, want 404", code)
	}
}
