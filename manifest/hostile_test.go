package manifest_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go/format"

	"github.com/feedbatch/feedbatch/internal/pqcheck/pqchecktest"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// bigManifest is a manifest whose name pages hold ~32 KiB of random text.
func bigManifest(t testing.TB, n int) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	rows := make([]manifest.Row, n)
	for i := range rows {
		name := make([]byte, 80)
		for j := range name {
			name[j] = byte('a' + r.IntN(26))
		}
		rows[i] = manifest.Row{Index: int64(i), ShopID: fmt.Sprintf("shop-%05d", i), Name: string(name),
			Source: manifest.Source{URL: "https://a.example/feed.csv", Format: "csv"}, Image: manifest.DefaultImageSpec, OriginIndex: -1}
	}
	st := memstore.New()
	if err := manifest.Save(t.Context(), st, "m.parquet", manifest.Meta{RunID: "r"}, rows, nil); err != nil {
		t.Fatal(err)
	}
	rc, err := st.Get(t.Context(), "m.parquet")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hostileManifests are damaged copies of good that must be refused before
// a page is decoded (see hostileCatalogs in package catalog).
func hostileManifests(t testing.TB, good []byte) map[string][]byte {
	return map[string][]byte{
		"codec-lz4-raw":  pqchecktest.SetCodec(t, good, format.Lz4Raw),
		"codec-snappy":   pqchecktest.SetCodec(t, good, format.Snappy),
		"codec-gzip":     pqchecktest.SetCodec(t, good, format.Gzip),
		"zstd-bomb-page": pqchecktest.ZstdBomb(t, good, pqchecktest.LargestPage(t, good)),
	}
}

// TestHostileManifestRefused checks that a lookup of every row and a full
// read refuse each damaged manifest with ErrInvalid, the heap bounded; the
// old reader decoded them and blew the heap guard.
func TestHostileManifestRefused(t *testing.T) {
	const rows = 1000
	good := bigManifest(t, rows)
	cases := hostileManifests(t, good)
	pqchecktest.HeapGuard(t, 256<<20)
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			st := memstore.New()
			if err := st.Put(t.Context(), "m.parquet", bytes.NewReader(file), nil); err != nil {
				t.Fatal(err)
			}
			f, err := manifest.Open(t.Context(), st, "m.parquet")
			if err != nil {
				if !errors.Is(err, manifest.ErrInvalid) {
					t.Fatalf("Open: %v, want ErrInvalid", err)
				}
				return
			}
			refused := false
			for i := range int64(rows) {
				if _, err := f.Row(t.Context(), i); err != nil {
					if !errors.Is(err, manifest.ErrInvalid) {
						t.Fatalf("Row(%d): %v, want ErrInvalid", i, err)
					}
					refused = true
					break
				}
			}
			if !refused {
				t.Error("every row read")
			}
			if _, err := f.All(t.Context()); !errors.Is(err, manifest.ErrInvalid) {
				t.Errorf("All: %v, want ErrInvalid", err)
			}
		})
	}
}
