package image

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	stdimage "image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/image/fetch"
	"github.com/feedbatch/feedbatch/stages/image/imgproc"
	"github.com/feedbatch/feedbatch/stages/platform"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

const runID = "2026-11-23"

func testImage(w, h int, c color.RGBA) *stdimage.RGBA {
	img := stdimage.NewRGBA(stdimage.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	return img
}

func jpegBytes(t testing.TB, w, h int, c color.RGBA) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h, c), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pngBytes(t testing.TB, w, h int, c color.RGBA) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h, c)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngBomb is a PNG signature and IHDR claiming w x h, and nothing more.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := []byte("IHDR")
	chunk = binary.BigEndian.AppendUint32(chunk, w)
	chunk = binary.BigEndian.AppendUint32(chunk, h)
	chunk = append(chunk, 8, 6, 0, 0, 0)
	b.Write(binary.BigEndian.AppendUint32(nil, 13))
	b.Write(chunk)
	b.Write(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(chunk)))
	return b.Bytes()
}

// fixtureServer serves named bodies with ETag/Last-Modified (via
// http.ServeContent, which answers conditional requests) and records every
// request.
type fixtureServer struct {
	*httptest.Server
	mu      sync.Mutex
	files   map[string][]byte
	noValid map[string]bool // serve without validators
	log     []string        // "GET /path cond" per request
}

func newFixtureServer(t *testing.T) *fixtureServer {
	fs := &fixtureServer{files: map[string][]byte{}, noValid: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/slow.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write([]byte{0xFF, 0xD8})
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/redirect-private.jpg", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.0.0.1/x.jpg", http.StatusFound)
	})
	mux.HandleFunc("/redirect-metadata.jpg", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		cond := r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != ""
		fs.log = append(fs.log, fmt.Sprintf("GET %s cond=%v", r.URL.Path, cond))
		b, ok := fs.files[r.URL.Path]
		noValid := fs.noValid[r.URL.Path]
		fs.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		// Lie about the type: content must be sniffed, not trusted.
		w.Header().Set("Content-Type", "image/jpeg")
		if noValid {
			w.Write(b)
			return
		}
		w.Header().Set("ETag", fmt.Sprintf(`"%x"`, crc32.ChecksumIEEE(b)))
		http.ServeContent(w, r, "", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), bytes.NewReader(b))
	})
	fs.Server = httptest.NewServer(mux)
	t.Cleanup(fs.Close)
	return fs
}

func (fs *fixtureServer) set(path string, b []byte) {
	fs.mu.Lock()
	fs.files[path] = b
	fs.mu.Unlock()
}

func (fs *fixtureServer) takeLog() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	l := fs.log
	fs.log = nil
	return l
}

// putCatalog writes a catalog of products with the given image links.
func putCatalog(t *testing.T, st store.Store, shop string, products []catalog.Product) {
	t.Helper()
	var buf bytes.Buffer
	w := catalog.NewWriter(&buf)
	for _, p := range products {
		if p.Currency == "" {
			p.Currency, p.Availability, p.Condition, p.Title, p.Link = "USD", catalog.AvailabilityInStock, catalog.ConditionNew, "t", "https://shop.example/p"
		}
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), catalog.CatalogKey(shop, runID), &buf, nil); err != nil {
		t.Fatal(err)
	}
}

func testStage() *Stage {
	return NewWithConfig(Config{Fetch: fetch.Config{
		AnyPort: true,
		Allow:   []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}})
}

func testJob(st store.Store, shop string, opts map[string]string) stages.Job {
	return stages.Job{
		RunID:       runID,
		ManifestKey: "runs/" + runID + "/manifest.parquet",
		Row: manifest.Row{
			ShopID: shop, Image: manifest.ImageSpec{Width: 120, Height: 120, Quality: 80, Background: "ffffff", Additional: true},
			Options: opts, OriginIndex: -1,
		},
		Store: st,
	}
}

// counts keeps the counters a test asserts on (all of them, zeroes dropped).
func counts(r stages.Result) map[string]int64 {
	out := map[string]int64{}
	for k, v := range r.Counts {
		if v != 0 && k != CountDownloaded {
			out[k] = v
		}
	}
	return out
}

// TestIncremental: the first run processes every image; a second run of the
// unchanged shop does no image work (only conditional requests, all 304, no
// decode, no write); with image.revalidate=false it makes no request at all;
// a changed image is processed alone.
func TestIncremental(t *testing.T) {
	srv := newFixtureServer(t)
	st := memstore.New()
	red, green, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}, color.RGBA{0, 0, 255, 255}
	srv.set("/a.jpg", jpegBytes(t, 300, 200, red))
	srv.set("/b.png", pngBytes(t, 50, 80, green))
	srv.set("/c.jpg", jpegBytes(t, 90, 90, blue))
	srv.set("/copy-of-a.jpg", jpegBytes(t, 300, 200, red)) // same bytes, other URL
	srv.set("/novalid.png", pngBytes(t, 40, 40, red))
	srv.noValid["/novalid.png"] = true
	u := func(p string) string { return srv.URL + p }
	putCatalog(t, st, "s1", []catalog.Product{
		{ID: "1", ImageLink: u("/a.jpg"), AdditionalImageLinks: []string{u("/b.png"), u("/c.jpg")}},
		{ID: "2", ImageLink: u("/a.jpg")}, // repeated URL: fetched once
		{ID: "3", ImageLink: u("/copy-of-a.jpg")},
		{ID: "4", ImageLink: u("/novalid.png")},
		{ID: "5"}, // no image
	})
	stage := testStage()

	// Run 1: everything is new.
	res, err := stage.Run(t.Context(), testJob(st, "s1", nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{CountRequests: 5, CountDecodes: 4, CountProcessed: 4, CountExisting: 1}, counts(res)); diff != "" {
		t.Errorf("run 1 counts (-want +got):\n%s", diff)
	}
	if res.ItemsIn != 5 || res.ItemsOut != 5 || len(res.Dropped) != 0 {
		t.Errorf("run 1: in %d out %d dropped %v, want 5 5 none", res.ItemsIn, res.ItemsOut, res.Dropped)
	}
	ix, err := LoadIndex(t.Context(), st, "s1")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ix.Lookup(u("/a.jpg"))
	ca, _ := ix.Lookup(u("/copy-of-a.jpg"))
	if a.Key == "" || a.Key != ca.Key {
		t.Errorf("same bytes under two URLs: keys %q and %q, want one key", a.Key, ca.Key)
	}
	if diff := cmp.Diff([]any{"jpeg", 300, 200, 120, 120}, []any{a.SourceFormat, a.SourceWidth, a.SourceHeight, a.Width, a.Height}); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
	checkJPEG(t, st, a.Key, 120, 120)
	srv.takeLog()

	// Run 2: unchanged shop, no image work.
	res, err = stage.Run(t.Context(), testJob(st, "s1", nil))
	if err != nil {
		t.Fatal(err)
	}
	// novalid.png has no validators: downloaded again, same bytes, no decode.
	want := map[string]int64{CountRequests: 5, CountConditional: 4, CountNotModified: 4, CountReused: 5, CountSameBytes: 1}
	if diff := cmp.Diff(want, counts(res)); diff != "" {
		t.Errorf("run 2 counts (-want +got):\n%s", diff)
	}
	if !res.Unchanged || res.Bytes != 0 {
		t.Errorf("run 2: unchanged %v bytes %d, want true 0", res.Unchanged, res.Bytes)
	}
	for _, l := range srv.takeLog() {
		if !strings.HasSuffix(l, "cond=true") && !strings.Contains(l, "novalid") {
			t.Errorf("run 2 made an unconditional request: %s", l)
		}
	}

	// Run 3: revalidate=false: no request at all.
	res, err = stage.Run(t.Context(), testJob(st, "s1", map[string]string{"image.revalidate": "false"}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{CountReused: 5}, counts(res)); diff != "" {
		t.Errorf("run 3 counts (-want +got):\n%s", diff)
	}
	if l := srv.takeLog(); len(l) != 0 {
		t.Errorf("run 3 made requests: %v", l)
	}

	// Run 4: one image changed upstream: only it is processed.
	srv.set("/c.jpg", jpegBytes(t, 90, 90, green))
	res, err = stage.Run(t.Context(), testJob(st, "s1", nil))
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]int64{CountRequests: 5, CountConditional: 4, CountNotModified: 3, CountReused: 4, CountSameBytes: 1, CountDecodes: 1, CountProcessed: 1}
	if diff := cmp.Diff(want, counts(res)); diff != "" {
		t.Errorf("run 4 counts (-want +got):\n%s", diff)
	}
	ix2, err := LoadIndex(t.Context(), st, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if c1, c2 := ix.Entries[u("/c.jpg")], ix2.Entries[u("/c.jpg")]; c1.Key == c2.Key {
		t.Errorf("changed image kept its key %s", c1.Key)
	}
}

func checkJPEG(t *testing.T, st store.Store, key string, w, h int) {
	t.Helper()
	rc, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	if cfg.Width != w || cfg.Height != h {
		t.Errorf("%s is %dx%d, want %dx%d", key, cfg.Width, cfg.Height, w, h)
	}
}

// TestHostile: every bad image is dropped with its reason; the shop
// succeeds as long as the failed share stays under the threshold.
func TestHostile(t *testing.T) {
	srv := newFixtureServer(t)
	st := memstore.New()
	good := jpegBytes(t, 64, 64, color.RGBA{255, 0, 0, 255})
	srv.set("/good.jpg", good)
	srv.set("/bomb.png", pngBomb(100000, 100000))
	srv.set("/truncated.jpg", good[:len(good)/2])
	srv.set("/page.jpg", []byte("<!DOCTYPE html><html><body>Not found</body></html>"))
	srv.set("/huge.jpg", append(jpegBytes(t, 8, 8, color.RGBA{}), make([]byte, 3<<20)...))
	u := func(p string) string { return srv.URL + p }
	putCatalog(t, st, "s2", []catalog.Product{
		{ID: "1", ImageLink: u("/good.jpg"), AdditionalImageLinks: []string{
			u("/bomb.png"), u("/truncated.jpg"), u("/page.jpg"), u("/missing.jpg"), u("/huge.jpg"),
			u("/slow.jpg"), u("/redirect-private.jpg"), u("/redirect-metadata.jpg"),
			"http://127.0.0.2/x.jpg", "ftp://shop.example/x.jpg",
		}},
		{ID: "2", ImageLink: "not a url"},
	})
	opts := map[string]string{"image.max_fail_share": "0.95", "image.timeout": "2s", "image.max_bytes": "2000000", "image.retries": "0"}
	res, err := testStage().Run(t.Context(), testJob(st, "s2", opts))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		ReasonPixelLimit: 1, ReasonDecodeError: 1, ReasonNotAnImage: 1, "http_404": 1, fetch.ReasonTooLarge: 1,
		fetch.ReasonTimeout: 1, fetch.ReasonSSRF: 3, fetch.ReasonBadURL: 2,
	}
	if diff := cmp.Diff(want, res.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if res.ItemsIn != 12 || res.ItemsOut != 1 {
		t.Errorf("in %d out %d, want 12 1", res.ItemsIn, res.ItemsOut)
	}

	// The same shop with the default threshold fails, permanently (the
	// failures are not transient), and publishes no index.
	st2 := memstore.New()
	putCatalog(t, st2, "s2", []catalog.Product{{ID: "1", ImageLink: u("/good.jpg"), AdditionalImageLinks: []string{u("/page.jpg"), u("/bomb.png")}}})
	_, err = testStage().Run(t.Context(), testJob(st2, "s2", nil))
	if err == nil || !errors.Is(err, stages.ErrPermanent) {
		t.Fatalf("err = %v, want a permanent failure", err)
	}
	if _, err := st2.Stat(t.Context(), IndexKey("s2")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("index published by a failed run (stat: %v)", err)
	}
}

// TestMirror reads images from a directory mirror and from a store prefix;
// the second run reads nothing (validators unchanged).
func TestMirror(t *testing.T) {
	dir := t.TempDir()
	img := jpegBytes(t, 200, 100, color.RGBA{0, 0, 255, 255})
	if err := os.MkdirAll(filepath.Join(dir, "cdn.shop.example", "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cdn.shop.example", "img", "a.jpg"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	if err := st.Put(t.Context(), "mirrors/m1/cdn.shop.example/img/a.jpg", bytes.NewReader(img), nil); err != nil {
		t.Fatal(err)
	}
	products := []catalog.Product{{ID: "1", ImageLink: "https://CDN.shop.example/img/a.jpg?v=3", AdditionalImageLinks: []string{
		"https://cdn.shop.example/img/../img/missing.jpg", "https://cdn.shop.example/../../../../etc/passwd",
	}}}
	for _, mirror := range []string{"file://" + filepath.ToSlash(dir), "store:mirrors/m1", "s3://bucket/root/mirrors/m1"} {
		t.Run(mirror, func(t *testing.T) {
			shop := fmt.Sprintf("m%d", len(mirror))
			putCatalog(t, st, shop, products)
			stage := NewWithConfig(Config{Root: "s3://bucket/root"})
			opts := map[string]string{"image.mirror": mirror, "image.max_fail_share": "1"}
			res, err := stage.Run(t.Context(), testJob(st, shop, opts))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]int64{reasonNotFound: 2}, res.Dropped); diff != "" {
				t.Errorf("dropped (-want +got):\n%s", diff)
			}
			if res.Counts[CountProcessed] != 1 {
				t.Errorf("processed %d, want 1", res.Counts[CountProcessed])
			}
			res, err = stage.Run(t.Context(), testJob(st, shop, opts))
			if err != nil {
				t.Fatal(err)
			}
			if res.Counts[CountNotModified] != 1 || res.Counts[CountDecodes] != 0 || res.Counts[CountDownloaded] != 0 {
				t.Errorf("second run counts %v, want 1 not_modified, no decode, no bytes read", res.Counts)
			}
		})
	}
}

// TestDeterministic: the same source and spec give the same key and bytes,
// whichever shop or store processes them.
func TestDeterministic(t *testing.T) {
	srv := newFixtureServer(t)
	srv.set("/a.jpg", jpegBytes(t, 333, 222, color.RGBA{10, 200, 30, 255}))
	var keys []string
	var outs [][]byte
	for range 2 {
		st := memstore.New()
		putCatalog(t, st, "s", []catalog.Product{{ID: "1", ImageLink: srv.URL + "/a.jpg"}})
		if _, err := testStage().Run(t.Context(), testJob(st, "s", nil)); err != nil {
			t.Fatal(err)
		}
		ix, err := LoadIndex(t.Context(), st, "s")
		if err != nil {
			t.Fatal(err)
		}
		e := ix.Entries[srv.URL+"/a.jpg"]
		rc, err := st.Get(t.Context(), e.Key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		keys, outs = append(keys, e.Key), append(outs, b)
	}
	if keys[0] != keys[1] || !bytes.Equal(outs[0], outs[1]) {
		t.Errorf("two runs gave %v and different=%v bytes", keys, !bytes.Equal(outs[0], outs[1]))
	}
}

// The image stage sizes images from the platform registry (stages/platform),
// filled in production by the feed stage's platform files; these test
// platforms stand for them.
func init() {
	platform.Register(platform.Spec{Name: "min500test", MinImageSide: 500})
	platform.Register(platform.Spec{Name: "nomintest"})
}

func TestSpecFor(t *testing.T) {
	tests := []struct {
		name      string
		row       manifest.Row
		wantSpec  string
		wantError bool
	}{
		{"defaults", manifest.Row{}, "800x800-q85-ffffff-v" + imgproc.Version, false},
		{"a platform's minimum raises the box", manifest.Row{Platforms: []string{"min500test"}, Image: manifest.ImageSpec{Width: 300, Height: 300}}, "500x500-q85-ffffff-v" + imgproc.Version, false},
		{"the raised box keeps its aspect", manifest.Row{Platforms: []string{"nomintest", "min500test"}, Image: manifest.ImageSpec{Width: 400, Height: 200}}, "1000x500-q85-ffffff-v" + imgproc.Version, false},
		{"a platform without a minimum", manifest.Row{Platforms: []string{"nomintest", "unknown"}, Image: manifest.ImageSpec{Width: 300, Height: 300, Quality: 70, Background: "000000"}}, "300x300-q70-000000-v" + imgproc.Version, false},
		{"bad background", manifest.Row{Image: manifest.ImageSpec{Background: "white"}}, "", true},
		{"bad quality", manifest.Row{Image: manifest.ImageSpec{Quality: 101}}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := specFor(tc.row)
			if (err != nil) != tc.wantError {
				t.Fatalf("err = %v, wantError %v", err, tc.wantError)
			}
			if err == nil && s.String() != tc.wantSpec {
				t.Errorf("spec %s, want %s", s, tc.wantSpec)
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	st := memstore.New()
	putCatalog(t, st, "s", nil)
	for _, opts := range []map[string]string{
		{"image.concurrency": "0"},
		{"image.max_fail_share": "2"},
		{"image.revalidate": "maybe"},
		{"image.timeout": "soon"},
		{"image.ports": "80,http"},
		{"image.mirror": "ftp://x/y"},
		{"image.memory_mb": "-1"},
	} {
		t.Run(fmt.Sprint(opts), func(t *testing.T) {
			_, err := testStage().Run(t.Context(), testJob(st, "s", opts))
			if !errors.Is(err, stages.ErrPermanent) {
				t.Fatalf("err = %v, want permanent", err)
			}
		})
	}
}

func TestMissingCatalog(t *testing.T) {
	_, err := testStage().Run(t.Context(), testJob(memstore.New(), "nope", nil))
	if !errors.Is(err, stages.ErrPermanent) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want permanent not found", err)
	}
}

func TestMirrorPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://cdn.example.com/a/b.jpg", "cdn.example.com/a/b.jpg"},
		{"http://CDN.Example.com:8080/a/b.jpg?x=1#f", "cdn.example.com/a/b.jpg"},
		{"https://cdn.example.com/../../etc/passwd", "cdn.example.com/etc/passwd"},
		{"https://cdn.example.com/a/%2e%2e/%2e%2e/x", "cdn.example.com/x"},
		{"https://cdn.example.com/", ""},
		{"file:///etc/passwd", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := mirrorPath(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("mirrorPath(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("mirrorPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestCancel: a cancelled context stops the run with the context's error
// and publishes nothing.
func TestCancel(t *testing.T) {
	srv := newFixtureServer(t)
	st := memstore.New()
	putCatalog(t, st, "s", []catalog.Product{{ID: "1", ImageLink: srv.URL + "/slow.jpg"}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := testStage().Run(ctx, testJob(st, "s", nil))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := st.Stat(t.Context(), IndexKey("s")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("index published by a cancelled run")
	}
}

// FuzzMirrorPath: whatever the URL, the mirror path stays inside the mirror:
// relative, no "." or ".." segments, no backslashes.
func FuzzMirrorPath(f *testing.F) {
	for _, s := range []string{"https://cdn.example.com/a/b.jpg", "https://x/../../etc/passwd", "http://h/%2e%2e/x", "https://h/a\\..\\b", "https://[::1]/a", "http://h//a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := mirrorPath(raw)
		if err != nil {
			return
		}
		if strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
			t.Fatalf("mirrorPath(%q) = %q", raw, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("mirrorPath(%q) = %q has segment %q", raw, p, seg)
			}
		}
	})
}

// TestRetry: a transient failure (503, then success) is retried; a 404 is not.
func TestRetry(t *testing.T) {
	defer func(d time.Duration) { retryBackoff = d }(retryBackoff)
	retryBackoff = time.Millisecond
	var mu sync.Mutex
	calls := map[string]int{}
	img := jpegBytes(t, 20, 20, color.RGBA{1, 2, 3, 255})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		n := calls[r.URL.Path]
		mu.Unlock()
		switch {
		case r.URL.Path == "/flaky.jpg" && n == 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case r.URL.Path == "/flaky.jpg":
			w.Write(img)
		case r.URL.Path == "/down.jpg":
			http.Error(w, "down", http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	st := memstore.New()
	putCatalog(t, st, "s", []catalog.Product{{ID: "1", ImageLink: srv.URL + "/flaky.jpg", AdditionalImageLinks: []string{srv.URL + "/gone.jpg", srv.URL + "/down.jpg"}}})
	res, err := testStage().Run(t.Context(), testJob(st, "s", map[string]string{"image.max_fail_share": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"/flaky.jpg": 2, "/gone.jpg": 1, "/down.jpg": 3}, calls); diff != "" {
		t.Errorf("requests per path (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int64{"http_404": 1, "http_502": 1}, res.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if res.Counts[CountRetries] != 3 || res.Counts[CountProcessed] != 1 {
		t.Errorf("counts %v, want 3 retries and 1 processed", res.Counts)
	}

	// Mostly transient failures: the child fails, retryable (not permanent).
	st2 := memstore.New()
	putCatalog(t, st2, "s", []catalog.Product{{ID: "1", ImageLink: srv.URL + "/down.jpg"}})
	_, err = testStage().Run(t.Context(), testJob(st2, "s", nil))
	if err == nil || errors.Is(err, stages.ErrPermanent) {
		t.Fatalf("err = %v, want a retryable failure", err)
	}
}

// TestBadIndex: an unreadable index is rebuilt; known images are found in
// the store by their content address, without decoding.
func TestBadIndex(t *testing.T) {
	srv := newFixtureServer(t)
	srv.set("/a.jpg", jpegBytes(t, 100, 100, color.RGBA{9, 9, 9, 255}))
	st := memstore.New()
	putCatalog(t, st, "s", []catalog.Product{{ID: "1", ImageLink: srv.URL + "/a.jpg"}})
	if _, err := testStage().Run(t.Context(), testJob(st, "s", nil)); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), IndexKey("s"), strings.NewReader("not gzip"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIndex(t.Context(), st, "s"); !errors.Is(err, ErrBadIndex) {
		t.Fatalf("LoadIndex err = %v, want ErrBadIndex", err)
	}
	res, err := testStage().Run(t.Context(), testJob(st, "s", nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{CountRequests: 1, CountExisting: 1}, counts(res)); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if ix, err := LoadIndex(t.Context(), st, "s"); err != nil || ix.Len() != 1 {
		t.Fatalf("rebuilt index: %v, %v", ix, err)
	}
}

// TestGarbageCollection: with image.gc_days, an image no index references
// any more and older than the cutoff is deleted; one that only the previous
// index references survives one more run.
func TestGarbageCollection(t *testing.T) {
	defer func(f func() time.Time) { nowFunc = f }(nowFunc)
	srv := newFixtureServer(t)
	srv.set("/a.jpg", jpegBytes(t, 50, 50, color.RGBA{200, 0, 0, 255}))
	srv.set("/b.jpg", jpegBytes(t, 50, 50, color.RGBA{0, 200, 0, 255}))
	st := memstore.New()
	u := func(p string) string { return srv.URL + p }
	putCatalog(t, st, "s", []catalog.Product{{ID: "1", ImageLink: u("/a.jpg")}, {ID: "2", ImageLink: u("/b.jpg")}})
	opts := map[string]string{"image.gc_days": "7"}
	if _, err := testStage().Run(t.Context(), testJob(st, "s", opts)); err != nil {
		t.Fatal(err)
	}
	ix, _ := LoadIndex(t.Context(), st, "s")
	keyB := ix.Entries[u("/b.jpg")].Key

	// b.jpg leaves the catalog; time moves on 30 days.
	nowFunc = func() time.Time { return time.Now().Add(30 * 24 * time.Hour) }
	putCatalog(t, st, "s", []catalog.Product{{ID: "1", ImageLink: u("/a.jpg")}})
	res, err := testStage().Run(t.Context(), testJob(st, "s", opts))
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[CountDeleted] != 0 {
		t.Fatalf("deleted %d on the first run without b.jpg, want 0 (the previous index still names it)", res.Counts[CountDeleted])
	}
	res, err = testStage().Run(t.Context(), testJob(st, "s", opts))
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[CountDeleted] != 1 {
		t.Fatalf("deleted %d, want 1", res.Counts[CountDeleted])
	}
	if _, err := st.Stat(t.Context(), keyB); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s still stored (%v)", keyB, err)
	}
	ix, _ = LoadIndex(t.Context(), st, "s")
	if _, err := st.Stat(t.Context(), ix.Entries[u("/a.jpg")].Key); err != nil {
		t.Errorf("referenced image deleted: %v", err)
	}
}
