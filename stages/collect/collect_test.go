package collect_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/collect"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const runID = "2026-11-23"

func fileURL(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + p
}

func newJob(st store.Store, src manifest.Source, currency string, opts map[string]string) stages.Job {
	return stages.Job{
		RunID:       runID,
		ManifestKey: "runs/" + runID + "/manifest.parquet",
		Row: manifest.Row{
			ShopID: "shop1", Source: src, Currency: currency, Options: opts, OriginIndex: -1,
		},
		Store:   st,
		Attempt: 1,
	}
}

func readCatalog(t *testing.T, st store.Store, key string) []catalog.Product {
	t.Helper()
	var ps []catalog.Product
	if err := catalog.Read(t.Context(), st, key, func(p catalog.Product) error {
		ps = append(ps, p)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ps
}

// golden is what a golden file holds: the result's counts and the products.
type golden struct {
	ItemsIn  int64             `json:"items_in"`
	ItemsOut int64             `json:"items_out"`
	Dropped  map[string]int64  `json:"dropped,omitempty"`
	Counts   map[string]int64  `json:"counts,omitempty"`
	Products []catalog.Product `json:"products"`
}

func checkGolden(t *testing.T, name string, got golden) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(b)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestGolden(t *testing.T) {
	cases := []struct {
		name     string
		file     string
		format   string
		currency string
		options  map[string]string
		mapping  map[string]string
	}{
		{name: "basic", file: "basic.csv", currency: "USD", options: map[string]string{"strip_html": "true"}},
		{name: "kr", file: "kr.csv", currency: "KRW"},
		{name: "kr-euckr", file: "kr-euckr.csv", currency: "KRW"},
		{name: "kr-euckr-explicit", file: "kr-euckr.csv", currency: "KRW", options: map[string]string{"encoding": "cp949"}},
		{name: "mapped", file: "mapped.tsv", currency: "EUR", mapping: map[string]string{
			"id": "Artikelnummer", "title": "Bezeichnung", "price": "Preis", "link": "Adresse", "image_link": "Bild",
		}},
		{name: "semicolon", file: "semicolon.csv", currency: "EUR"},
		{name: "jsonl", file: "products.jsonl", currency: "USD"},
		{name: "json-array", file: "products.json", currency: "USD", mapping: map[string]string{"additional_image_links": "images.src", "item_group_id": "variants.group"}},
		{name: "google-rss", file: "google.xml", currency: "KRW"},
		{name: "atom", file: "atom.xml", currency: "USD"},
		{name: "gzip", file: "basic.csv.gz.bin", currency: "USD"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New()
			job := newJob(st, manifest.Source{URL: fileURL(t, tc.file), Format: tc.format, Options: tc.options, Mapping: tc.mapping},
				tc.currency, map[string]string{collect.OptMaxBadShare: "0.9"})
			res, err := collect.New().Run(t.Context(), job)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			key := catalog.CatalogKey("shop1", runID)
			if diff := cmp.Diff([]string{key}, res.Outputs); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
			ps := readCatalog(t, st, key)
			if int64(len(ps)) != res.ItemsOut {
				t.Errorf("catalog has %d products, result says %d", len(ps), res.ItemsOut)
			}
			counts := res.Counts
			delete(counts, "source_bytes")
			if len(counts) == 0 {
				counts = nil
			}
			checkGolden(t, tc.name, golden{res.ItemsIn, res.ItemsOut, res.Dropped, counts, ps})
		})
	}
}

func TestBadShareFailsAndPublishesNothing(t *testing.T) {
	st := memstore.New()
	job := newJob(st, manifest.Source{URL: fileURL(t, "basic.csv")}, "USD", nil) // default 0.2; basic.csv has 4 of 8 bad
	res, err := collect.New().Run(t.Context(), job)
	if err == nil {
		t.Fatal("Run succeeded; want a bad-share failure")
	}
	if !strings.Contains(err.Error(), "rows are bad") || !errorsIsPermanent(err) {
		t.Fatalf("err = %v; want a permanent bad-share error", err)
	}
	if res.ItemsIn != 8 || len(res.Dropped) == 0 {
		t.Errorf("result counts not filled: %+v", res)
	}
	if _, err := st.Stat(t.Context(), catalog.CatalogKey("shop1", runID)); err == nil {
		t.Fatal("a catalog was published")
	}
}

func TestMissingColumnsIsPermanent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.csv")
	os.WriteFile(p, []byte("sku,name\n1,x\n"), 0o644)
	_, err := collect.New().Run(t.Context(), newJob(memstore.New(), manifest.Source{URL: "file://" + p}, "USD", nil))
	if err == nil || !errorsIsPermanent(err) || !strings.Contains(err.Error(), "no column for link") {
		t.Fatalf("err = %v; want permanent 'no column for link ...'", err)
	}
}

func TestUnknownMappingField(t *testing.T) {
	_, err := collect.New().Run(t.Context(), newJob(memstore.New(),
		manifest.Source{URL: fileURL(t, "basic.csv"), Mapping: map[string]string{"colour": "x"}}, "USD", nil))
	if err == nil || !errorsIsPermanent(err) || !strings.Contains(err.Error(), `unknown catalog field "colour"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestFileUnchangedReuses(t *testing.T) {
	st := memstore.New()
	src := manifest.Source{URL: fileURL(t, "kr.csv")}
	if _, err := collect.New().Run(t.Context(), newJob(st, src, "KRW", nil)); err != nil {
		t.Fatal(err)
	}
	job := newJob(st, src, "KRW", nil)
	job.RunID = "2026-11-24"
	res, err := collect.New().Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Unchanged || res.ItemsOut != 2 {
		t.Fatalf("second run: %+v; want unchanged with 2 items", res)
	}
	a := readCatalog(t, st, catalog.CatalogKey("shop1", runID))
	b := readCatalog(t, st, catalog.CatalogKey("shop1", "2026-11-24"))
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("reused catalog differs:\n%s", diff)
	}
	// Changed settings: fetched in full.
	job.RunID = "2026-11-25"
	job.Row.Source.Options = map[string]string{"strip_html": "true"}
	res, err = collect.New().Run(t.Context(), job)
	if err != nil || res.Unchanged {
		t.Fatalf("after a settings change: %+v, %v; want a full fetch", res, err)
	}
}

func errorsIsPermanent(err error) bool { return isPermanent(err) }

func TestSourceSizeCap(t *testing.T) {
	job := newJob(memstore.New(), manifest.Source{URL: fileURL(t, "basic.csv"), Options: map[string]string{"max_source_bytes": "100"}}, "USD", nil)
	_, err := collect.New().Run(t.Context(), job)
	if !errorsIsPermanent(err) || !strings.Contains(err.Error(), "size cap") {
		t.Fatalf("err = %v; want a permanent size-cap error", err)
	}
}
