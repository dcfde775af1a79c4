package manifest_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

var created = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// shops makes n realistic rows, sorted by shop id as the registry makes them.
func shops(n int) []manifest.Row {
	rows := make([]manifest.Row, n)
	formats := []string{"csv", "tsv", "jsonl", "xml", ""}
	for i := range rows {
		id := fmt.Sprintf("shop-%06d", i)
		r := manifest.Row{
			Index:        int64(i),
			ShopID:       id,
			Name:         fmt.Sprintf("Shop %d Outdoor & Living", i),
			Source:       manifest.Source{URL: fmt.Sprintf("https://%s.example/export/catalog-%d.csv", id, i*7919%100000), Format: formats[i%len(formats)]},
			Platforms:    []string{"google", "meta"},
			Currency:     "USD",
			Country:      "US",
			Image:        manifest.DefaultImageSpec,
			OutputPrefix: "shops/" + id + "/",
			OriginIndex:  -1,
		}
		switch i % 4 {
		case 1:
			r.Platforms = []string{"google", "naver"}
			r.Currency, r.Country = "KRW", "KR"
			r.Source.Options = map[string]string{"encoding": "euc-kr", "delimiter": "\t"}
		case 2:
			r.Source.Mapping = map[string]string{"id": "SKU", "title": "Product Name", "price": "Retail"}
		case 3:
			r.Options = map[string]string{"feed.max_drop_share": "0.5"}
		}
		rows[i] = r
	}
	return rows
}

func meta(run string) manifest.Meta {
	return manifest.Meta{RunID: run, CreatedAt: created, Extra: map[string]string{"registry": "examples/shops.yaml"}}
}

func save(t testing.TB, rows []manifest.Row) (store.Store, string) {
	t.Helper()
	st := memstore.New()
	key := manifest.Key("2026-11-23")
	if err := manifest.Save(t.Context(), st, key, meta("2026-11-23"), rows, nil); err != nil {
		t.Fatal(err)
	}
	return st, key
}

var equateEmpty = cmpopts.EquateEmpty()

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 10, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rows := shops(n)
			st, key := save(t, rows)
			f, err := manifest.Open(t.Context(), st, key)
			if err != nil {
				t.Fatal(err)
			}
			if f.NumRows() != int64(n) {
				t.Fatalf("NumRows = %d, want %d", f.NumRows(), n)
			}
			wantMeta := meta("2026-11-23")
			wantMeta.Count = int64(n)
			wantMeta.SchemaVersion = manifest.SchemaVersion
			if diff := cmp.Diff(wantMeta, f.Meta()); diff != "" {
				t.Errorf("meta (-want +got):\n%s", diff)
			}
			for _, i := range []int{0, n / 2, n - 1} {
				if i < 0 || n == 0 {
					continue
				}
				got, err := f.Row(t.Context(), int64(i))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(rows[i], got, equateEmpty); diff != "" {
					t.Errorf("row %d (-want +got):\n%s", i, diff)
				}
			}
			all, err := f.All(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rows, all, equateEmpty); diff != "" {
				t.Errorf("All (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRowOutOfRange(t *testing.T) {
	st, key := save(t, shops(3))
	for _, idx := range []int64{-1, 3, 1 << 40} {
		_, _, err := manifest.Lookup(t.Context(), st, key, idx)
		if !errors.Is(err, manifest.ErrIndexOutOfRange) {
			t.Errorf("Lookup(%d) = %v, want ErrIndexOutOfRange", idx, err)
		}
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := manifest.Open(t.Context(), memstore.New(), "runs/x/manifest.parquet")
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open missing = %v, want ErrNotFound", err)
	}
}

func TestWriteRejects(t *testing.T) {
	good := shops(3)
	tests := []struct {
		name string
		edit func(rows []manifest.Row)
	}{
		{"index gap", func(r []manifest.Row) { r[1].Index = 5 }},
		{"duplicate shop", func(r []manifest.Row) { r[2].ShopID = r[0].ShopID }},
		{"empty shop id", func(r []manifest.Row) { r[0].ShopID = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := append([]manifest.Row(nil), good...)
			tc.edit(rows)
			err := manifest.Write(&bytes.Buffer{}, meta("r"), rows)
			if !errors.Is(err, manifest.ErrInvalid) {
				t.Fatalf("Write = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestOpenRejectsForeignParquet(t *testing.T) {
	st := memstore.New()
	if err := st.Put(t.Context(), "x.parquet", bytes.NewReader([]byte("PAR1 this is not a parquet file PAR1")), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := manifest.Open(t.Context(), st, "x.parquet"); !errors.Is(err, manifest.ErrInvalid) {
		t.Fatalf("Open = %v, want ErrInvalid", err)
	}
}

func TestKeys(t *testing.T) {
	if got := manifest.Key("2026-11-23"); got != "runs/2026-11-23/manifest.parquet" {
		t.Errorf("Key = %q", got)
	}
	if got := manifest.RerunKey("2026-11-23", "2"); got != "runs/2026-11-23/reruns/2/manifest.parquet" {
		t.Errorf("RerunKey = %q", got)
	}
}

// TestGolden pins the file format: the bytes written for a small manifest
// and what reading them back gives. Regenerate with go test ./manifest -update.
func TestGolden(t *testing.T) {
	rows := shops(5)
	var buf bytes.Buffer
	if err := manifest.Write(&buf, meta("2026-11-23"), rows); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "small.parquet")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./manifest -update)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("written bytes differ from %s (%d vs %d bytes); if the change is intended, run go test ./manifest -update", golden, buf.Len(), len(want))
	}
	// The committed file must stay readable whatever the writer does.
	st := memstore.New()
	if err := st.Put(t.Context(), "m.parquet", bytes.NewReader(want), nil); err != nil {
		t.Fatal(err)
	}
	got, m, err := manifest.ReadAll(t.Context(), st, "m.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rows, got, equateEmpty); diff != "" {
		t.Errorf("golden rows (-want +got):\n%s", diff)
	}
	if m.RunID != "2026-11-23" || m.Count != 5 || !m.CreatedAt.Equal(created) {
		t.Errorf("golden meta = %+v", m)
	}
}

// TestConcurrentRows reads rows from one File on many goroutines.
func TestConcurrentRows(t *testing.T) {
	rows := shops(2000)
	st, key := save(t, rows)
	f, err := manifest.Open(t.Context(), st, key)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := g; i < len(rows); i += 97 {
				got, err := f.Row(t.Context(), int64(i))
				if err == nil && got.ShopID != rows[i].ShopID {
					err = fmt.Errorf("row %d: shop %s", i, got.ShopID)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
