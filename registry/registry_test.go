package registry_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/registry"
	"github.com/feedbatch/feedbatch/store/memstore"
)

const goodYAML = `# two shops
shops:
  - id: acme-outdoor
    name: Acme Outdoor
    source:
      url: catalogs/acme.csv
      options: {encoding: utf-8}
      mapping: {price: Retail Price}
    platforms: [meta, google]
    country: US
    options:
      image.mirror: images
      feed.max_drop_share: "0.5"
  - id: seoul-mart
    name: 서울마트
    source: https://seoul-mart.example/ep.tsv
    platforms: naver, google
    country: KR
    image: {width: 1000, height: 1000, background: "#F0F0F0"}
  - id: old-shop
    source: s3://bucket/old/feed.xml
    platforms: [google]
    disabled: true
`

func TestLoadYAML(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "shops.yaml")
	if err := os.WriteFile(p, []byte(goodYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "catalogs", "acme.csv"), "id,title\n")
	shops, err := registry.Load(t.Context(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := registry.Rows(shops)
	want := []manifest.Row{
		{
			Index: 0, ShopID: "acme-outdoor", Name: "Acme Outdoor",
			Source: manifest.Source{
				URL:     "file://" + filepath.ToSlash(filepath.Join(dir, "catalogs/acme.csv")),
				Options: map[string]string{"encoding": "utf-8"},
				Mapping: map[string]string{"price": "Retail Price"},
			},
			Platforms: []string{"google", "meta"}, Currency: "USD", Country: "US",
			Image: manifest.DefaultImageSpec, OutputPrefix: "shops/acme-outdoor/",
			Options:     map[string]string{"image.mirror": "file://" + filepath.ToSlash(filepath.Join(dir, "images")), "feed.max_drop_share": "0.5"},
			OriginIndex: -1,
		},
		{
			Index: 1, ShopID: "seoul-mart", Name: "서울마트",
			Source:    manifest.Source{URL: "https://seoul-mart.example/ep.tsv"},
			Platforms: []string{"google", "naver"}, Currency: "KRW", Country: "KR",
			Image:        manifest.ImageSpec{Width: 1000, Height: 1000, Quality: 85, Background: "f0f0f0"},
			OutputPrefix: "shops/seoul-mart/", OriginIndex: -1,
		},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Rows (-want +got):\n%s", diff)
	}
	if len(shops) != 3 || !shops[2].Disabled {
		t.Errorf("disabled shop not loaded: %d shops", len(shops))
	}
	// The same file through file:// and from the store (no relative paths there).
	if _, err := registry.Load(t.Context(), "file://"+filepath.ToSlash(p), nil); err != nil {
		t.Errorf("file URL: %v", err)
	}
	st := memstore.New()
	if err := st.Put(t.Context(), "registry/shops.yaml", strings.NewReader(goodYAML), nil); err != nil {
		t.Fatal(err)
	}
	_, err = registry.Load(t.Context(), "store:registry/shops.yaml", st)
	if err == nil || !strings.Contains(err.Error(), "relative path needs a file registry") {
		t.Errorf("store registry with relative paths: %v", err)
	}
}

func TestLoadCSV(t *testing.T) {
	const csvText = "id,name,source_url,platforms,currency,country,image.width,source.mapping.price,options.collect.max_bad_share,disabled\n" +
		"b-shop,B Shop,https://b.example/f.csv,google;meta,EUR,DE,600,Preis,0.3,\n" +
		"a-shop,\"A, Shop\",s3://bucket/a.jsonl,naver,,KR,,,,false\n"
	st := memstore.New()
	if err := st.Put(t.Context(), "r/shops.csv", strings.NewReader(csvText), nil); err != nil {
		t.Fatal(err)
	}
	shops, err := registry.Load(t.Context(), "store:r/shops.csv", st)
	if err != nil {
		t.Fatal(err)
	}
	rows := registry.Rows(shops)
	want := []manifest.Row{
		{Index: 0, ShopID: "a-shop", Name: "A, Shop", Source: manifest.Source{URL: "s3://bucket/a.jsonl"},
			Platforms: []string{"naver"}, Currency: "KRW", Country: "KR", Image: manifest.DefaultImageSpec,
			OutputPrefix: "shops/a-shop/", OriginIndex: -1},
		{Index: 1, ShopID: "b-shop", Name: "B Shop",
			Source:    manifest.Source{URL: "https://b.example/f.csv", Mapping: map[string]string{"price": "Preis"}},
			Platforms: []string{"google", "meta"}, Currency: "EUR", Country: "DE",
			Image:        manifest.ImageSpec{Width: 600, Height: 800, Quality: 85, Background: "ffffff"},
			OutputPrefix: "shops/b-shop/", Options: map[string]string{"collect.max_bad_share": "0.3"}, OriginIndex: -1},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Rows (-want +got):\n%s", diff)
	}
}

func writeFile(t *testing.T, p, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRefusedBeforeSubmission: what would certainly fail every child is
// refused when the registry is loaded (manifest build, plan): an unknown
// option (with the closest name), an option with a bad value, a shop in a
// currency one of its platforms does not take, a local catalog that does
// not exist. All at once, one per line, each with its line and reason.
func TestRefusedBeforeSubmission(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "catalogs", "ok.csv"), "id,title\n")
	writeFile(t, filepath.Join(dir, "shops.yaml"), `shops:
  - id: typo
    source: catalogs/ok.csv
    platforms: [google]
    options:
      feed.max_drop_shar: "0.3"
  - id: bad-value
    source: catalogs/ok.csv
    platforms: [google]
    options:
      image.mirror: images
      feed.gzip_level: "11"
  - id: naver-usd
    source: catalogs/ok.csv
    platforms: [naver, google]
    currency: USD
  - id: naver-us
    source: catalogs/ok.csv
    platforms: [naver]
    country: US
  - id: missing-file
    source: catalogs/nope.csv
    platforms: [google]
  - id: good
    source: catalogs/ok.csv
    platforms: [naver]
    country: KR
    options: {feed.naver.default_shipping: "2500", image.timeout: 30s}
`)
	_, err := registry.Load(t.Context(), filepath.Join(dir, "shops.yaml"), nil)
	if !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	want := `registry: invalid: 5 problem(s):
shops.yaml:6: shop "typo": options: feed.max_drop_shar="0.3": unknown option (did you mean feed.max_drop_share?)
shops.yaml:12: shop "bad-value": options: feed.gzip_level="11": want a whole number from 1 to 9
shops.yaml:16: shop "naver-usd": currency: currency USD: platform naver takes only KRW (its feed would be empty)
shops.yaml:20: shop "naver-us": country: currency USD: platform naver takes only KRW (its feed would be empty)
shops.yaml:22: shop "missing-file": source.url: "catalogs/nope.csv": no such file (` + filepath.Join(dir, "catalogs", "nope.csv") + `)`
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("got:\n%v\nwant:\n%s\ndiff:\n%s", err, want, diff)
	}
	// The same from a file:// URL source.
	writeFile(t, filepath.Join(dir, "url.yaml"), "- id: a\n  source: file://"+filepath.ToSlash(filepath.Join(dir, "gone.csv"))+"\n  platforms: [google]\n")
	if _, err := registry.Load(t.Context(), filepath.Join(dir, "url.yaml"), nil); err == nil || !strings.Contains(err.Error(), "url.yaml:2: shop \"a\": source.url:") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("file:// source missing: err = %v", err)
	}
}

// TestInvalid checks that every problem is reported, with its line and
// reason, in one error.
func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		file string
		text string
		want []string // each must appear in the error
	}{
		{"yaml all problems", "shops.yaml", `shops:
  - id: "a b"
    source: https://a.example/f.csv
    platforms: [google]
  - id: good
    source: ftp://x.example/f.csv
    platforms: [google, tiktok]
    currency: krw
  - id: good
    source: {url: "https://", formt: csv}
    platforms: [meta]
    image: {quality: 101}
  - id: pg
    source: postgres://db.example/shop
    platforms: []
    country: Korea
    options: {nodot: x}
`, []string{
			`shops.yaml:2: shop "a b": id: not safe as a path segment`,
			`shops.yaml:6: shop "good": source.url: "ftp://x.example/f.csv": unsupported scheme "ftp"`,
			`shops.yaml:7: shop "good": platforms: unknown platform "tiktok"`,
			`shops.yaml:8: shop "good": currency: "krw" is not an ISO 4217 code`,
			`shops.yaml:9: shop "good": id: duplicate id (first at line 5)`,
			`shops.yaml:10: shop "good": source.formt: unknown field`,
			`shops.yaml:10: shop "good": source.url: "https://": no host`,
			`shops.yaml:12: shop "good": image: quality 101 out of range`,
			`shops.yaml:13: shop "pg": source.query: missing`,
			`shops.yaml:15: shop "pg": platforms: missing`,
			`shops.yaml:16: shop "pg": country: "Korea" is not an ISO 3166-1 code`,
			`shops.yaml:17: shop "pg": options: nodot="x": unknown option`,
			"12 problem(s)",
		}},
		{"yaml duplicate field", "shops.yaml", "- id: a\n  source: https://a.example/x\n  platforms: [google]\n  id: b\n",
			[]string{`shops.yaml:4: shop "b": id: given twice (first at line 1)`}},
		{"yaml syntax", "shops.yaml", "shops:\n  - id: [\n", []string{"shops.yaml:2: yaml: did not find expected node content"}},
		{"yaml not a list", "shops.yaml", "shops: 3\n", []string{"shops.yaml:1: shops: want a list of shops"}},
		{"yaml unknown top", "s.yml", "shop: []\n", []string{"s.yml:1: shop: unknown top-level key", "no shops list"}},
		{"yaml wrong type", "shops.yaml", "- id: a\n  source: https://a.example/x\n  platforms: [google]\n  disabled: maybe\n  image: {width: big}\n",
			[]string{`shops.yaml:4: shop "a": disabled: want true or false`, `shops.yaml:5: shop "a": image.width: want a whole number`}},
		{"csv", "shops.csv", "id,source_url,platforms,currency\nUPPER,https://a.example/f,google,USD\nok,https://b.example/f,meta,US\nok,http://c.example/f,google,USD\nshort,https://d.example\n",
			[]string{
				`shops.csv:2: shop "UPPER": id: not safe as a path segment`,
				`shops.csv:3: shop "ok": currency: "US" is not an ISO 4217 code`,
				`shops.csv:4: shop "ok": id: duplicate id (first at line 3)`,
				`shops.csv:5: csv: wrong number of fields`,
			}},
		{"csv unknown column", "shops.csv", "id,colour\na,red\n", []string{`shops.csv:1: colour: unknown column`}},
		{"csv no id", "shops.csv", "name\nA\n", []string{`shops.csv:1: id: no id column`}},
		{"unknown format", "shops.json", "[]", []string{"unknown format"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := registry.Parse(tc.file, []byte(tc.text), "/base")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%v", w, err)
				}
			}
			if tc.name != "unknown format" {
				if !errors.Is(err, registry.ErrInvalid) {
					t.Errorf("not ErrInvalid: %v", err)
				}
				var re *registry.Error
				if !errors.As(err, &re) || re.Reason == "" {
					t.Errorf("no *registry.Error in %v", err)
				}
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	e := &registry.Error{File: "shops.yaml", Line: 12, ShopID: "a b", Field: "id", Reason: "not safe as a path segment"}
	if got, want := e.Error(), `shops.yaml:12: shop "a b": id: not safe as a path segment`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &registry.Error{File: "table feedbatch_shops", Line: 3, ShopID: "x", Field: "platforms", Reason: "missing"}
	if got, want := e.Error(), `table feedbatch_shops row 3: shop "x": platforms: missing`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestEmptyRegistries(t *testing.T) {
	for _, tc := range []struct{ file, text string }{{"a.yaml", ""}, {"a.yaml", "shops:\n"}, {"a.csv", ""}, {"a.csv", "id,source_url\n"}} {
		shops, err := registry.Parse(tc.file, []byte(tc.text), "")
		if err != nil || len(shops) != 0 {
			t.Errorf("%s %q: %d shops, %v", tc.file, tc.text, len(shops), err)
		}
	}
}

func TestLoadSources(t *testing.T) {
	if _, err := registry.Load(t.Context(), "ftp://x/shops.yaml", nil); err == nil {
		t.Error("ftp registry accepted")
	}
	if _, err := registry.Load(t.Context(), "store:shops.yaml", nil); err == nil {
		t.Error("store registry without a store accepted")
	}
	if _, err := registry.Load(t.Context(), filepath.Join(t.TempDir(), "none.yaml"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzYAML: the YAML loader never panics, and what it accepts makes valid
// manifest rows.
func FuzzYAML(f *testing.F) {
	f.Add([]byte(goodYAML))
	f.Add([]byte("- id: a\n  source: https://a.example/f\n  platforms: [google]\n"))
	f.Add([]byte("shops: &a [*a]\n"))
	f.Add([]byte("shops:\n  - {id: a, image: {width: 99999999999}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParsed(t, "f.yaml", data)
	})
}

// FuzzCSV: the CSV loader never panics, and what it accepts makes valid
// manifest rows.
func FuzzCSV(f *testing.F) {
	f.Add([]byte("id,source_url,platforms\na,https://a.example/f,google\n"))
	f.Add([]byte("id,name,source.url,platforms,options.image.mirror,image.quality\na,\"x\"\"y\",https://a.example/f,google;naver,images,90\n"))
	f.Add([]byte("\xef\xbb\xbfid\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParsed(t, "f.csv", data)
	})
}

func checkParsed(t *testing.T, name string, data []byte) {
	shops, err := registry.Parse(name, data, "/base")
	if err != nil {
		return
	}
	rows := registry.Rows(shops)
	if err := manifest.Write(&bytes.Buffer{}, manifest.Meta{RunID: "r"}, rows); err != nil {
		t.Fatalf("accepted registry gives an invalid manifest: %v", err)
	}
}
