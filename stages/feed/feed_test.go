package feed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/platform"
	"github.com/feedbatch/feedbatch/stages/stagetest"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/filestore"
	"github.com/feedbatch/feedbatch/store/memstore"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func init() {
	nowFunc = func() time.Time { return time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC) }
	Register(platform.Spec{Name: "failing"}, func(Config) (Platform, error) { return &failing{}, nil })
}

// failing is a platform whose renderer fails on item kr-2.
type failing struct{ google }

func (*failing) Name() string { return "failing" }
func (*failing) WriteItem(w *bufio.Writer, p *catalog.Product) error {
	if p.ID == "kr-2" {
		return errors.New("render failed")
	}
	return nil
}

// fakeIndex is an image index: source URL -> processed key.
type fakeIndex map[string]string

func (f fakeIndex) ImageKey(src string) (string, bool) { k, ok := f[src]; return k, ok }
func (f fakeIndex) Len() int                           { return len(f) }

// withImages is the feed stage reading ix as the shop's image index.
func withImages(ix fakeIndex) *Stage {
	return &Stage{Images: func(context.Context, store.Store, string) (stages.ImageIndex, error) { return ix, nil }}
}

// sample is a small catalog that exercises every field and the escaping.
func sample() []catalog.Product {
	return []catalog.Product{
		{
			ID: "kr-1", ItemGroupID: "grp-1", Title: "울 스웨터 <네이비> & 그레이, M",
			Description: "<p>메리노 울 100%</p>\n세탁: 손빨래 &amp; 그늘 건조",
			Link:        "https://shop.example.kr/p/울-스웨터?size=M&color=navy",
			MobileLink:  "https://m.shop.example.kr/p/1",
			ImageLink:   "https://img.example.kr/a b/1.jpg",
			AdditionalImageLinks: []string{
				"https://img.example.kr/1,2.jpg", "https://img.example.kr/3|4.jpg", "notaurl",
			},
			Price: 59000, SalePrice: 49000, Currency: "KRW",
			Availability: catalog.AvailabilityInStock, Condition: catalog.ConditionNew,
			Brand: "예시브랜드", GTIN: "8801234567893", MPN: "SW-1",
			CategoryPath: "의류 > 니트 > 스웨터", ProductType: "212",
			ShippingCost: 3000, ShippingCountry: "KR", CustomLabel0: "겨울",
		},
		{
			ID: "kr-2", Title: "Quote \"this\", please", Description: "Plain\ttext\r\nwith breaks",
			Link: "http://shop.example.kr/p/2", ImageLink: "https://img.example.kr/2.jpg",
			Price: 15000, Currency: "KRW", Availability: catalog.AvailabilityOutOfStock,
			Condition: catalog.ConditionUsed, MPN: "M-2", CategoryPath: "잡화",
			ShippingCost: 0,
		},
		{
			ID: "kr-3", Title: "Preorder item", Description: "Soon",
			Link: "https://shop.example.kr/p/3", ImageLink: "https://img.example.kr/3.jpg",
			Price: 1000, Currency: "KRW", Availability: catalog.AvailabilityPreorder,
			Condition: catalog.ConditionRefurbished, Brand: "B", CategoryPath: "A > B > C > D > E",
			ShippingCost: -1,
		},
		{
			ID: "kr-4", Title: "No image", Description: "x", Link: "https://shop.example.kr/p/4",
			Price: 1000, Currency: "KRW", Availability: catalog.AvailabilityInStock,
			Condition: catalog.ConditionNew, Brand: "B", CategoryPath: "A", ShippingCost: 0,
		},
		{
			ID: "us-5", Title: "Wool sweater", Description: "100% merino",
			Link: "https://shop.example.com/p/5", ImageLink: "https://img.example.com/5.jpg",
			Price: 5900, SalePrice: 7000, Currency: "USD", Availability: catalog.AvailabilityInStock,
			Condition: catalog.ConditionNew, Brand: "Example", GTIN: "123", CategoryPath: "Apparel",
			ShippingCost: 495, ShippingCountry: "US",
		},
	}
}

func allPlatforms(t testing.TB) []Platform {
	t.Helper()
	var ps []Platform
	for _, n := range []string{"google", "meta", "naver"} {
		p, err := NewPlatform(n, Config{Country: "KR"})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func sliceNext(ps []catalog.Product) func() (catalog.Product, error) {
	i := 0
	return func() (catalog.Product, error) {
		if i == len(ps) {
			return catalog.Product{}, io.EOF
		}
		i++
		return ps[i-1], nil
	}
}

// render renders ps for every platform and returns the gzipped bytes and
// outputs by platform.
func render(t testing.TB, ps []catalog.Product) (map[string][]byte, map[string]*Output) {
	t.Helper()
	r := &Renderer{Platforms: allPlatforms(t), Channel: Channel{ShopID: "s1", Title: "Example & Co"}, TempDir: t.TempDir()}
	outs, err := r.Render(context.Background(), sliceNext(ps))
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	files := map[string][]byte{}
	byName := map[string]*Output{}
	for _, o := range outs {
		b, err := io.ReadAll(o.Reader())
		if err != nil {
			t.Fatal(err)
		}
		o.Remove()
		files[o.Platform.Name()] = b
		byName[o.Platform.Name()] = o
	}
	return files, byName
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

func TestGolden(t *testing.T) {
	files, outs := render(t, sample())
	for _, name := range []string{"google", "meta", "naver"} {
		t.Run(name, func(t *testing.T) {
			got := gunzip(t, files[name])
			path := filepath.Join("testdata", name+".golden."+outs[name].Platform.Ext())
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s feed differs from %s (-want +got):\n%s", name, path, diff)
			}
		})
	}
	wantDropped := map[string]map[string]int64{
		"google": {"missing_availability_date": 1, "missing_image_link": 1},
		"meta":   {"missing_image_link": 1},
		"naver":  {"missing_image_link": 1, "missing_shipping": 1, "not_krw": 1, "out_of_stock": 1},
	}
	for name, want := range wantDropped {
		if diff := cmp.Diff(want, outs[name].Dropped); diff != "" {
			t.Errorf("%s dropped (-want +got):\n%s", name, diff)
		}
	}
}

// googleFeed is what an independent parser reads back from our RSS.
type googleFeed struct {
	XMLName xml.Name `xml:"rss"`
	Channel struct {
		Title string `xml:"title"`
		Link  string `xml:"link"`
		Items []struct {
			ID          string   `xml:"http://base.google.com/ns/1.0 id"`
			Title       string   `xml:"http://base.google.com/ns/1.0 title"`
			Description string   `xml:"http://base.google.com/ns/1.0 description"`
			Link        string   `xml:"http://base.google.com/ns/1.0 link"`
			Image       string   `xml:"http://base.google.com/ns/1.0 image_link"`
			Extra       []string `xml:"http://base.google.com/ns/1.0 additional_image_link"`
			Price       string   `xml:"http://base.google.com/ns/1.0 price"`
			SalePrice   string   `xml:"http://base.google.com/ns/1.0 sale_price"`
			Shipping    struct {
				Country string `xml:"http://base.google.com/ns/1.0 country"`
				Price   string `xml:"http://base.google.com/ns/1.0 price"`
			} `xml:"http://base.google.com/ns/1.0 shipping"`
		} `xml:"item"`
	} `xml:"channel"`
}

func TestRoundTrip(t *testing.T) {
	files, _ := render(t, sample())
	t.Run("google", func(t *testing.T) {
		var f googleFeed
		if err := xml.Unmarshal(gunzip(t, files["google"]), &f); err != nil {
			t.Fatalf("encoding/xml cannot parse our feed: %v", err)
		}
		if f.Channel.Title != "Example & Co" || f.Channel.Link != "https://shop.example.kr/" {
			t.Errorf("channel = %q %q", f.Channel.Title, f.Channel.Link)
		}
		if len(f.Channel.Items) != 3 {
			t.Fatalf("items = %d, want 3", len(f.Channel.Items))
		}
		it := f.Channel.Items[0]
		if it.Title != "울 스웨터 <네이비> & 그레이, M" || it.Price != "59000 KRW" || it.SalePrice != "49000 KRW" {
			t.Errorf("item 0 = %+v", it)
		}
		if it.Image != "https://img.example.kr/a%20b/1.jpg" {
			t.Errorf("image_link = %q, want percent-encoded", it.Image)
		}
		if want := "https://shop.example.kr/p/%EC%9A%B8-%EC%8A%A4%EC%9B%A8%ED%84%B0?size=M&color=navy"; it.Link != want {
			t.Errorf("link = %q, want %q", it.Link, want)
		}
		if len(it.Extra) != 2 {
			t.Errorf("additional images = %q, want 2 (the bad one left out)", it.Extra)
		}
		if it.Shipping.Country != "KR" || it.Shipping.Price != "3000 KRW" {
			t.Errorf("shipping = %+v", it.Shipping)
		}
		if us := f.Channel.Items[2]; us.Price != "59.00 USD" || us.SalePrice != "" {
			t.Errorf("USD item price %q sale %q, want 59.00 USD and no sale above price", us.Price, us.SalePrice)
		}
		if d := f.Channel.Items[1].Description; d != "Plain\ttext\r\nwith breaks" {
			t.Errorf("description = %q, want tabs and CR LF kept", d)
		}
	})
	t.Run("meta", func(t *testing.T) {
		r := csv.NewReader(bytes.NewReader(gunzip(t, files["meta"])))
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("encoding/csv cannot parse our feed: %v", err)
		}
		if len(recs) != 5 {
			t.Fatalf("rows = %d, want header + 4", len(recs))
		}
		if diff := cmp.Diff(metaColumns, recs[0]); diff != "" {
			t.Errorf("header (-want +got):\n%s", diff)
		}
		row := map[string]string{}
		for i, c := range recs[0] {
			row[c] = recs[1][i]
		}
		want := map[string]string{
			"id": "kr-1", "availability": "in stock", "price": "59000 KRW", "sale_price": "49000 KRW",
			"description":           "메리노 울 100% 세탁: 손빨래 & 그늘 건조",
			"additional_image_link": "https://img.example.kr/1%2C2.jpg,https://img.example.kr/3%7C4.jpg",
			"shipping":              "KR::Standard:3000 KRW",
		}
		for k, v := range want {
			if row[k] != v {
				t.Errorf("%s = %q, want %q", k, row[k], v)
			}
		}
		if recs[2][2] != `Quote "this", please` {
			t.Errorf("title = %q", recs[2][2])
		}
	})
	t.Run("naver", func(t *testing.T) {
		lines := strings.Split(strings.TrimSuffix(string(gunzip(t, files["naver"])), "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("lines = %d, want header + 1", len(lines))
		}
		header := strings.Split(lines[0], "\t")
		for i, l := range lines {
			if n := len(strings.Split(l, "\t")); n != len(header) {
				t.Errorf("line %d has %d columns, header %d", i, n, len(header))
			}
		}
		row := map[string]string{}
		for i, v := range strings.Split(lines[1], "\t") {
			row[header[i]] = v
		}
		want := map[string]string{
			"id": "kr-1", "price_pc": "49000", "price_mobile": "49000", "normal_price": "59000",
			"category_name1": "의류", "category_name2": "니트", "category_name3": "스웨터",
			"condition": "신상품", "shipping": "3000", "barcode": "8801234567893",
		}
		for k, v := range want {
			if row[k] != v {
				t.Errorf("%s = %q, want %q", k, row[k], v)
			}
		}
	})
}

// TestXMLLint checks the Google feed with libxml2's parser, an independent
// implementation, when xmllint is installed (Debian: libxml2-utils).
func TestXMLLint(t *testing.T) {
	bin := testtool.Require(t, testtool.Xmllint)
	files, _ := render(t, append(sample(), hostile()...))
	path := filepath.Join(t.TempDir(), "google.xml")
	if err := os.WriteFile(path, gunzip(t, files["google"]), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "--noout", path).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint --noout: %v\n%s", err, out)
	}
}

func TestDeterministic(t *testing.T) {
	a, _ := render(t, append(sample(), hostile()...))
	b, _ := render(t, append(sample(), hostile()...))
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s: two renders of the same catalog differ", name)
		}
		if mtime := a[name][4:8]; !bytes.Equal(mtime, []byte{0, 0, 0, 0}) {
			t.Errorf("%s: gzip header has a timestamp %x", name, mtime)
		}
	}
}

// hostile is a catalog a broken source might give.
func hostile() []catalog.Product {
	base := func(id string) catalog.Product {
		return catalog.Product{
			ID: id, Title: "t", Description: "d", Link: "https://h.example/p", ImageLink: "https://h.example/i.jpg",
			Price: 1000, Currency: "KRW", Availability: "in_stock", Condition: "new", Brand: "b",
			CategoryPath: "c", ShippingCost: 0,
		}
	}
	var ps []catalog.Product
	add := func(f func(p *catalog.Product)) {
		p := base(fmt.Sprintf("h-%d", len(ps)))
		f(&p)
		ps = append(ps, p)
	}
	add(func(p *catalog.Product) { p.Title = "ctl\x00\x01\x08\x0b\x0c\x1f\x7f\u0085 end\uFFFE\uFFFF" })
	add(func(p *catalog.Product) { p.Title = "bad utf8 \xff\xfe\xc3(" + "\xed\xa0\x80" })
	add(func(p *catalog.Product) { p.Title = strings.Repeat("가", 100000) })
	add(func(p *catalog.Product) { p.Description = strings.Repeat("]]> <![CDATA[ &#0; ", 1000) })
	add(func(p *catalog.Product) { p.Price = -5 })
	add(func(p *catalog.Product) { p.Price = 0 })
	add(func(p *catalog.Product) { p.Currency = "krw" })
	add(func(p *catalog.Product) { p.Link = "javascript:alert(1)" })
	add(func(p *catalog.Product) { p.Link = "//no-scheme.example/p" })
	add(func(p *catalog.Product) { p.ImageLink = "ftp://h.example/i.jpg" })
	add(func(p *catalog.Product) { p.ImageLink = "https://h.example/" + strings.Repeat("x", 3000) })
	add(func(p *catalog.Product) { p.ID = strings.Repeat("i", 200) })
	add(func(p *catalog.Product) { p.ID = "\x00\x01" })
	add(func(p *catalog.Product) { p.Availability = "maybe" })
	add(func(p *catalog.Product) { p.Condition = "broken" })
	add(func(p *catalog.Product) { p.Title = "\t\r\n" })
	add(func(p *catalog.Product) { p.Brand = "tab\there\nnewline" })
	add(func(p *catalog.Product) { p.AdditionalImageLinks = slicesRepeat("https://h.example/x.jpg?a=1", 30) })
	add(func(p *catalog.Product) { p.Link = "https://h.example/p?q=<script>&x=\"'" })
	add(func(p *catalog.Product) { p.Link = "https://[::1" })
	add(func(p *catalog.Product) { p.ID = "# ref_application_id 1" })
	return ps
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s&n=%d", s, i)
	}
	return out
}

func TestHostileCatalog(t *testing.T) {
	files, outs := render(t, hostile())
	var f googleFeed
	if err := xml.Unmarshal(gunzip(t, files["google"]), &f); err != nil {
		t.Fatalf("google feed does not parse: %v", err)
	}
	for _, it := range f.Channel.Items {
		for _, s := range []string{it.ID, it.Title, it.Description, it.Link, it.Image} {
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' }) {
				t.Errorf("item %s has unclean text %q", it.ID, s)
			}
		}
		if utf8.RuneCountInString(it.Title) > googleTitleMax {
			t.Errorf("item %s title has %d runes", it.ID, utf8.RuneCountInString(it.Title))
		}
		if len(it.Extra) > googleExtraImages {
			t.Errorf("item %s has %d additional images", it.ID, len(it.Extra))
		}
	}
	metaCSV := gunzip(t, files["meta"])
	if _, err := csv.NewReader(bytes.NewReader(metaCSV)).ReadAll(); err != nil {
		t.Errorf("meta feed does not parse: %v", err)
	}
	if bytes.Contains(metaCSV, []byte("\n#")) {
		t.Error("a meta CSV line starts with '#' (a metadata comment to Meta)")
	}
	lines := strings.Split(strings.TrimSuffix(string(gunzip(t, files["naver"])), "\n"), "\n")
	for i, l := range lines {
		if n := strings.Count(l, "\t"); n != len(naverColumns)-1 {
			t.Errorf("naver line %d has %d tabs, want %d", i, n, len(naverColumns)-1)
		}
	}
	wantGoogle := map[string]int64{
		"bad_price": 2, "bad_currency": 1, "bad_link": 3, "bad_image_link": 1, "image_link_too_long": 1,
		"id_too_long": 1, "missing_id": 1, "bad_availability": 1, "bad_condition": 1, "missing_title": 1,
	}
	if diff := cmp.Diff(wantGoogle, outs["google"].Dropped); diff != "" {
		t.Errorf("google dropped (-want +got):\n%s", diff)
	}
	if got, want := outs["google"].Items+outs["google"].DroppedTotal(), int64(len(hostile())); got != want {
		t.Errorf("items %d + dropped != %d", got, want)
	}
	if outs["google"].Items == 0 {
		t.Error("no valid item survived")
	}
}

// --- the stage: publishing, guard, failures ---

func writeCatalog(t testing.TB, st store.Store, shop, run string, ps []catalog.Product) {
	t.Helper()
	var buf bytes.Buffer
	w := catalog.NewWriter(&buf)
	for _, p := range ps {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), catalog.CatalogKey(shop, run), &buf, nil); err != nil {
		t.Fatal(err)
	}
}

func newJob(t testing.TB, st store.Store, run string, platforms ...string) stages.Job {
	return stages.Job{
		RunID: run, ManifestKey: "runs/" + run + "/manifest.parquet", Store: st, Attempt: 1,
		Row: manifest.Row{Index: 0, ShopID: "s1", Name: "Shop One", Platforms: platforms,
			Currency: "KRW", Country: "KR", OriginIndex: -1, Options: map[string]string{}},
	}
}

// many makes n valid KRW products.
func many(n int) []catalog.Product {
	ps := make([]catalog.Product, n)
	for i := range ps {
		ps[i] = catalog.Product{
			ID: fmt.Sprintf("p%d", i), Title: fmt.Sprintf("Product %d", i), Description: "desc",
			Link: fmt.Sprintf("https://shop.example/p/%d", i), ImageLink: fmt.Sprintf("https://img.example/%d.jpg", i),
			Price: 1000 + int64(i), Currency: "KRW", Availability: "in_stock", Condition: "new",
			Brand: "B", CategoryPath: "Cat", ShippingCost: 0,
		}
	}
	return ps
}

func get(t testing.TB, st store.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStagePublishes(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   func(t *testing.T) store.Store
	}{
		{"memstore", func(*testing.T) store.Store { return memstore.New() }},
		{"filestore", func(t *testing.T) store.Store {
			s, err := filestore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st(t)
			writeCatalog(t, st, "s1", "r1", sample())
			job := newJob(t, st, "r1", "naver", "google", "meta")
			res, err := New().Run(t.Context(), job)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			wantOut := []string{
				"shops/s1/feeds/google.xml.gz", "shops/s1/feeds/google.meta.json",
				"shops/s1/feeds/meta.csv.gz", "shops/s1/feeds/meta.meta.json",
				"shops/s1/feeds/naver.tsv.gz", "shops/s1/feeds/naver.meta.json",
			}
			if diff := cmp.Diff(wantOut, res.Outputs); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
			if res.ItemsIn != 5 || res.ItemsOut != 3+4+1 {
				t.Errorf("items in %d out %d, want 5 and 8", res.ItemsIn, res.ItemsOut)
			}
			if res.Dropped["naver/not_krw"] != 1 || res.Counts["google_items"] != 3 {
				t.Errorf("dropped %v counts %v", res.Dropped, res.Counts)
			}
			golden, err := os.ReadFile("testdata/google.golden.xml")
			if err != nil {
				t.Fatal(err)
			}
			// Same items as the golden file (the channel title is the row's name).
			items := func(b []byte) []byte { return b[bytes.Index(b, []byte("<item>")):] }
			if got := gunzip(t, get(t, st, "shops/s1/feeds/google.xml.gz")); !bytes.Equal(items(got), items(golden)) {
				t.Error("published google feed's items differ from the golden file")
			}
			info, err := st.Stat(t.Context(), "shops/s1/feeds/google.xml.gz")
			if err != nil {
				t.Fatal(err)
			}
			m, err := ReadMeta(t.Context(), st, "s1", "google")
			if err != nil {
				t.Fatal(err)
			}
			if m.Count != 3 || m.Bytes != info.Size || m.RunID != "r1" || len(m.SHA256) != 64 {
				t.Errorf("meta = %+v (object size %d)", m, info.Size)
			}
		})
	}
}

func TestStageContract(t *testing.T) {
	stagetest.Run(t, New(), func(t *testing.T) stages.Job {
		st := memstore.New()
		writeCatalog(t, st, "s1", "r1", sample())
		return newJob(t, st, "r1", "google", "meta", "naver")
	}, stagetest.Change(func(t *testing.T, job stages.Job) stages.Job {
		// The next day's catalog: every title changed, so every feed is new.
		ps := sample()
		for i := range ps {
			ps[i].Title += " (new)"
		}
		writeCatalog(t, job.Store, "s1", "r2", ps)
		return newJob(t, job.Store, "r2", "google", "meta", "naver")
	}))
}

func TestGuard(t *testing.T) {
	for _, tc := range []struct {
		name      string
		next      int
		share     string
		force     bool
		wantErr   error
		published bool
	}{
		{name: "small drop published", next: 60, published: true},
		{name: "drop past default share refused", next: 40, wantErr: ErrGuard},
		{name: "force overrides", next: 40, force: true, published: true},
		{name: "share option raises the bar", next: 40, share: "0.7", published: true},
		{name: "share option lowers the bar", next: 85, share: "0.1", wantErr: ErrGuard},
		{name: "growth published", next: 150, published: true},
		{name: "empty refused", next: 0, wantErr: ErrEmpty},
		{name: "empty refused even forced", next: 0, force: true, wantErr: ErrEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New()
			writeCatalog(t, st, "s1", "r1", many(100))
			if _, err := New().Run(t.Context(), newJob(t, st, "r1", "google")); err != nil {
				t.Fatal(err)
			}
			before := get(t, st, "shops/s1/feeds/google.xml.gz")
			beforeMeta := get(t, st, "shops/s1/feeds/google.meta.json")

			writeCatalog(t, st, "s1", "r2", many(tc.next))
			job := newJob(t, st, "r2", "google")
			job.Force = tc.force
			if tc.share != "" {
				job.Row.Options[OptMaxDropShare] = tc.share
			}
			res, err := New().Run(t.Context(), job)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, stages.ErrPermanent) {
				t.Errorf("guard error %v is not permanent", err)
			}
			after := get(t, st, "shops/s1/feeds/google.xml.gz")
			afterMeta := get(t, st, "shops/s1/feeds/google.meta.json")
			if changed := !bytes.Equal(before, after); changed != tc.published {
				t.Errorf("feed replaced = %v, want %v", changed, tc.published)
			}
			if changed := !bytes.Equal(beforeMeta, afterMeta); changed != tc.published {
				t.Errorf("meta replaced = %v, want %v", changed, tc.published)
			}
			if !tc.published && len(res.Outputs) != 0 {
				t.Errorf("outputs %v for a refused feed", res.Outputs)
			}
		})
	}
}

func TestGuardPerPlatform(t *testing.T) {
	// Naver loses every item (currency changes), Google keeps them: Google
	// is published, Naver refused, the child fails permanently.
	st := memstore.New()
	writeCatalog(t, st, "s1", "r1", many(10))
	if _, err := New().Run(t.Context(), newJob(t, st, "r1", "google", "naver")); err != nil {
		t.Fatal(err)
	}
	naverBefore := get(t, st, "shops/s1/feeds/naver.tsv.gz")
	ps := many(10)
	for i := range ps {
		ps[i].Currency = "USD"
		ps[i].Title = "changed"
	}
	writeCatalog(t, st, "s1", "r2", ps)
	res, err := New().Run(t.Context(), newJob(t, st, "r2", "google", "naver"))
	if !errors.Is(err, ErrEmpty) || !errors.Is(err, stages.ErrPermanent) {
		t.Fatalf("err = %v, want permanent ErrEmpty", err)
	}
	if !bytes.Equal(naverBefore, get(t, st, "shops/s1/feeds/naver.tsv.gz")) {
		t.Error("naver feed replaced by an empty one")
	}
	if !bytes.Contains(gunzip(t, get(t, st, "shops/s1/feeds/google.xml.gz")), []byte("changed")) {
		t.Error("google feed not published")
	}
	if diff := cmp.Diff([]string{"shops/s1/feeds/google.xml.gz", "shops/s1/feeds/google.meta.json"}, res.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	// The result says so per platform.
	if g, n := res.Platforms["google"], res.Platforms["naver"]; g.Status != stages.PlatformPublished || g.Items != 10 ||
		n.Status != stages.PlatformFailed || !strings.Contains(n.Reason, "previous feed kept") {
		t.Errorf("platforms %+v", res.Platforms)
	}
}

func TestFailedRenderKeepsPreviousFeed(t *testing.T) {
	st := memstore.New()
	writeCatalog(t, st, "s1", "r1", many(10))
	if _, err := New().Run(t.Context(), newJob(t, st, "r1", "google")); err != nil {
		t.Fatal(err)
	}
	before := get(t, st, "shops/s1/feeds/google.xml.gz")
	ps := sample()
	ps[1].Title = "changed"
	writeCatalog(t, st, "s1", "r2", ps)
	dir := t.TempDir()
	s := &Stage{TempDir: dir}
	_, err := s.Run(t.Context(), newJob(t, st, "r2", "google", "failing"))
	if err == nil || !strings.Contains(err.Error(), "render failed") {
		t.Fatalf("err = %v, want the render error", err)
	}
	if !bytes.Equal(before, get(t, st, "shops/s1/feeds/google.xml.gz")) {
		t.Error("a failed render replaced the google feed")
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("spooled files left behind: %v", left)
	}
}

func TestStageBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*stages.Job)
	}{
		{"unknown platform", func(j *stages.Job) { j.Row.Platforms = []string{"google", "myspace"} }},
		{"no platform", func(j *stages.Job) { j.Row.Platforms = nil }},
		{"bad share", func(j *stages.Job) { j.Row.Options[OptMaxDropShare] = "lots" }},
		{"bad level", func(j *stages.Job) { j.Row.Options[OptGzipLevel] = "11" }},
		{"bad site url", func(j *stages.Job) { j.Row.Options[OptSiteURL] = "shop.example" }},
		{"bad image base url", func(j *stages.Job) { j.Row.Options[OptImageBaseURL] = "cdn" }},
		{"bad naver shipping", func(j *stages.Job) { j.Row.Options["feed.naver.default_shipping"] = "-1" }},
		{"missing catalog", func(j *stages.Job) { j.RunID = "nope" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New()
			writeCatalog(t, st, "s1", "r1", sample())
			job := newJob(t, st, "r1", "google", "naver")
			tc.mod(&job)
			_, err := New().Run(t.Context(), job)
			if !errors.Is(err, stages.ErrPermanent) {
				t.Errorf("err = %v, want a permanent error", err)
			}
		})
	}
}

func TestNaverDefaultShipping(t *testing.T) {
	st := memstore.New()
	ps := many(3)
	for i := range ps {
		ps[i].ShippingCost = -1
	}
	writeCatalog(t, st, "s1", "r1", ps)
	job := newJob(t, st, "r1", "naver")
	if _, err := New().Run(t.Context(), job); !errors.Is(err, ErrEmpty) {
		t.Fatalf("without a default shipping cost: err = %v, want ErrEmpty", err)
	}
	job.Row.Options["feed.naver.default_shipping"] = "2500"
	res, err := New().Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	if res.ItemsOut != 3 || !bytes.Contains(gunzip(t, get(t, st, "shops/s1/feeds/naver.tsv.gz")), []byte("\t2500\n")) {
		t.Errorf("items %d; default shipping not applied", res.ItemsOut)
	}
}

func TestImageMap(t *testing.T) {
	st := memstore.New()
	writeCatalog(t, st, "s1", "r1", many(2))
	job := newJob(t, st, "r1", "google")
	job.Row.Options[OptImageBaseURL] = "https://cdn.example"
	if _, err := withImages(fakeIndex{}).Run(t.Context(), job); err != nil {
		t.Fatalf("without an image index: %v", err)
	}
	if feed := gunzip(t, get(t, st, "shops/s1/feeds/google.xml.gz")); !bytes.Contains(feed, []byte("<g:image_link>https://img.example/0.jpg<")) {
		t.Error("without an image index the catalog's image link must stay")
	}
	// The image stage's index, as the graph hands it to the feed stage.
	withIndex := withImages(fakeIndex{"https://img.example/0.jpg": "shops/s1/images/abc.jpg"})
	if _, err := withIndex.Run(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	feed := gunzip(t, get(t, st, "shops/s1/feeds/google.xml.gz"))
	for _, want := range []string{"https://cdn.example/shops/s1/images/abc.jpg", "https://img.example/1.jpg"} {
		if !bytes.Contains(feed, []byte("<g:image_link>"+want+"</g:image_link>")) {
			t.Errorf("feed lacks image_link %s", want)
		}
	}
}

func TestRegistry(t *testing.T) {
	for _, want := range []string{"failing", "google", "meta", "naver"} {
		if !slices.Contains(Platforms(), want) {
			t.Errorf("platform %s not registered: %v", want, Platforms())
		}
	}
	if diff := cmp.Diff(Platforms(), platform.Names()); diff != "" {
		t.Errorf("feed writers and platform specs differ (-feed +platform):\n%s", diff)
	}
	for name, min := range map[string]int{"google": 500, "meta": 500, "naver": 0} {
		if s, _ := platform.Lookup(name); s.MinImageSide != min {
			t.Errorf("%s: minimum image side %d, want %d", name, s.MinImageSide, min)
		}
	}
	if s, _ := platform.Lookup("naver"); s.Accepts("USD") || !s.Accepts("KRW") {
		t.Errorf("naver currencies %v, want KRW only", s.Currencies)
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate Register did not panic")
		}
	}()
	Register(platform.Spec{Name: "google"}, func(Config) (Platform, error) { return &google{}, nil })
}

func TestGuardUnreadableMeta(t *testing.T) {
	st := memstore.New()
	writeCatalog(t, st, "s1", "r1", many(10))
	if err := st.Put(t.Context(), MetaKey("s1", "google"), strings.NewReader("{not json"), nil); err != nil {
		t.Fatal(err)
	}
	job := newJob(t, st, "r1", "google")
	if _, err := New().Run(t.Context(), job); !errors.Is(err, ErrGuard) || !errors.Is(err, stages.ErrPermanent) {
		t.Fatalf("err = %v, want a permanent guard refusal", err)
	}
	if _, err := st.Stat(t.Context(), "shops/s1/feeds/google.xml.gz"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("feed published despite the refusal: %v", err)
	}
	job.Force = true
	if _, err := New().Run(t.Context(), job); err != nil {
		t.Fatalf("forced: %v", err)
	}
	if m, err := ReadMeta(t.Context(), st, "s1", "google"); err != nil || m.Count != 10 {
		t.Errorf("meta after forced run = %+v, %v", m, err)
	}
}

func TestGoogleAvailabilityDate(t *testing.T) {
	pst := time.FixedZone("PST", -8*3600)
	for _, tc := range []struct {
		name, availability string
		date               time.Time
		reason, want       string // want: the availability_date element, "" for none
	}{
		{"preorder with date", catalog.AvailabilityPreorder, time.Date(2026, 12, 25, 13, 0, 0, 0, pst), "",
			"<g:availability_date>2026-12-25T21:00Z</g:availability_date>\n"},
		{"backorder with date", catalog.AvailabilityBackorder, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), "",
			"<g:availability_date>2027-01-02T00:00Z</g:availability_date>\n"},
		{"preorder without date", catalog.AvailabilityPreorder, time.Time{}, "missing_availability_date", ""},
		{"backorder without date", catalog.AvailabilityBackorder, time.Time{}, "missing_availability_date", ""},
		{"in stock with date", catalog.AvailabilityInStock, time.Date(2026, 12, 25, 0, 0, 0, 0, time.UTC), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := NewPlatform("google", Config{Country: "KR"})
			if err != nil {
				t.Fatal(err)
			}
			p := sample()[0]
			p.Availability, p.AvailabilityDate = tc.availability, tc.date
			prepare(&p, nil, true)
			reason, ok := pl.Validate(&p)
			if reason != tc.reason || ok != (tc.reason == "") {
				t.Fatalf("Validate = %q, %v; want %q", reason, ok, tc.reason)
			}
			if !ok {
				return
			}
			var buf bytes.Buffer
			w := bufio.NewWriter(&buf)
			if err := pl.WriteItem(w, &p); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			got := ""
			if i := strings.Index(buf.String(), "<g:availability_date>"); i >= 0 {
				got = buf.String()[i:]
				got = got[:strings.IndexByte(got, '\n')+1]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("availability_date (-want +got):\n%s", diff)
			}
			if tc.want != "" && !strings.Contains(buf.String(), "</g:availability>\n"+tc.want) {
				t.Errorf("availability_date does not follow availability:\n%s", buf.String())
			}
		})
	}
}
