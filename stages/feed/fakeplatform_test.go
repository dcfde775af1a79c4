package feed_test

// Adding a platform is this one file's init: a Spec (image size,
// currencies, options) and a feed writer, registered with feed.Register.
// The tests below show it reaching the registry, the image stage, the feed
// stage, the options list and the report's figures with no other change.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/registry"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/stages/feed"
	"github.com/feedbatch/feedbatch/stages/image"
	"github.com/feedbatch/feedbatch/stages/platform"
	"github.com/feedbatch/feedbatch/store/memstore"
)

const optTikTokTag = "feed.tiktok.tag"

func init() {
	feed.Register(platform.Spec{
		Name:         "tiktok",
		MinImageSide: 600,
		Currencies:   []string{"USD"},
		Options:      []stages.Option{stages.Text(optTikTokTag, "tt", "prefix of every line")},
	}, func(cfg feed.Config) (feed.Platform, error) {
		return &tiktok{tag: cfg.Options.String(optTikTokTag)}, nil
	})
}

// tiktok writes "<tag> <id> <title>" lines.
type tiktok struct{ tag string }

func (*tiktok) Name() string        { return "tiktok" }
func (*tiktok) Ext() string         { return "txt" }
func (*tiktok) ContentType() string { return "text/plain; charset=utf-8" }
func (*tiktok) Validate(p *catalog.Product) (string, bool) {
	if p.Price <= 0 {
		return "no_price", false
	}
	return "", true
}
func (*tiktok) WriteHeader(*bufio.Writer, feed.Channel) error { return nil }
func (t *tiktok) WriteItem(w *bufio.Writer, p *catalog.Product) error {
	_, err := fmt.Fprintf(w, "%s %s %s\n", t.tag, p.ID, p.Title)
	return err
}
func (*tiktok) WriteFooter(*bufio.Writer) error { return nil }
func (*tiktok) CountItems(r io.Reader) (int64, error) {
	b, err := io.ReadAll(r)
	return int64(bytes.Count(b, []byte("\n"))), err
}

func TestFakePlatformFlowsThrough(t *testing.T) {
	// The registry takes it, its option and its currency rule.
	shops, err := registry.Parse("shops.yaml", []byte(`shops:
  - id: s1
    name: Shop One
    source: https://s1.example/f.csv
    platforms: [tiktok, google]
    currency: USD
    options: {feed.tiktok.tag: "#ad"}
`), "")
	if err != nil {
		t.Fatalf("registry refused the new platform: %v", err)
	}
	_, err = registry.Parse("shops.yaml", []byte("- id: s2\n  source: https://s2.example/f.csv\n  platforms: [tiktok]\n  currency: KRW\n  options: {feed.tiktok.tga: x}\n"), "")
	for _, want := range []string{"platform tiktok takes only USD", "did you mean feed.tiktok.tag"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("registry error lacks %q: %v", want, err)
		}
	}
	if _, ok := all.Options()[optTikTokTag]; !ok {
		t.Error("feedbatch options does not list the platform's option")
	}
	row := registry.Rows(shops)[0]

	// The image stage sizes for it.
	row.Image = manifest.ImageSpec{Width: 300, Height: 300}
	if spec, err := image.SpecFor(row); err != nil || !strings.HasPrefix(spec, "600x600-") {
		t.Errorf("image spec %q, %v: want the platform's 600x600 minimum", spec, err)
	}

	// The feed stage renders and publishes it.
	st := memstore.New()
	var buf bytes.Buffer
	w := catalog.NewWriter(&buf)
	for i := range 3 {
		p := catalog.Product{ID: fmt.Sprintf("p%d", i), Title: fmt.Sprintf("Product %d", i), Description: "d",
			Link: fmt.Sprintf("https://s1.example/p/%d", i), ImageLink: fmt.Sprintf("https://img.example/%d.jpg", i),
			Price: 1000, Currency: "USD", Availability: "in_stock", Condition: "new", Brand: "B", CategoryPath: "Cat"}
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), catalog.CatalogKey("s1", "r1"), &buf, nil); err != nil {
		t.Fatal(err)
	}
	job := stages.Job{RunID: "r1", ManifestKey: "runs/r1/manifest.parquet", Store: st, Attempt: 1, Row: row}
	res, err := stages.Execute(t.Context(), feed.New(), job)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := st.Get(context.Background(), "shops/s1/feeds/tiktok.txt.gz")
	if err != nil {
		t.Fatalf("tiktok feed not published: %v", err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(zr)
	if want := "#ad p0 Product 0\n#ad p1 Product 1\n#ad p2 Product 2\n"; string(text) != want {
		t.Errorf("tiktok feed = %q, want %q", text, want)
	}

	// The report reads its figures like any platform's.
	var got *platform.Figures
	for _, f := range platform.FromResult(res) {
		if f.Platform == "tiktok" {
			got = &f
		}
	}
	if got == nil || !got.Rendered || got.Items != 3 {
		t.Errorf("figures for tiktok: %+v (result counts %v)", got, res.Counts)
	}
}
