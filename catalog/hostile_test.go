package catalog_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/parquet-go/parquet-go/format"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/catalog/catalogtest"
	"github.com/feedbatch/feedbatch/internal/pqcheck/pqchecktest"
)

// hostileCatalogs are damaged copies of good, each a case the reader must
// refuse before decoding: with parquet-go v0.32.0, a codec flipped to
// LZ4_RAW makes its decoder double a buffer without end (8-14 GB in
// seconds), and a zstd page without a content size decompresses to
// whatever its blocks say.
func hostileCatalogs(t testing.TB, good []byte) map[string][]byte {
	return map[string][]byte{
		"codec-lz4-raw":      pqchecktest.SetCodec(t, good, format.Lz4Raw),
		"codec-lz4":          pqchecktest.SetCodec(t, good, format.Lz4),
		"codec-snappy":       pqchecktest.SetCodec(t, good, format.Snappy),
		"codec-gzip":         pqchecktest.SetCodec(t, good, format.Gzip),
		"codec-brotli":       pqchecktest.SetCodec(t, good, format.Brotli),
		"codec-uncompressed": pqchecktest.SetCodec(t, good, format.Uncompressed),
		"zstd-bomb-page":     pqchecktest.ZstdBomb(t, good, pqchecktest.LargestPage(t, good)),
	}
}

func realisticCatalog(t testing.TB, n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	ps := make([]catalog.Product, n)
	for i := range ps {
		ps[i] = catalogtest.Product(i, r)
	}
	return writeCatalog(t, ps)
}

// TestHostileCatalogRefused checks that NewReader refuses each damaged
// catalog, before decoding a page, with the heap bounded; the old reader
// opened them and blew the heap guard on the first read.
func TestHostileCatalogRefused(t *testing.T) {
	good := realisticCatalog(t, 1000)
	cases := hostileCatalogs(t, good)
	pqchecktest.HeapGuard(t, 256<<20)
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := catalog.NewReader(bytes.NewReader(file), int64(len(file)))
			if err == nil {
				defer r.Close()
				for err == nil {
					_, err = r.Next()
				}
				t.Fatalf("opened; reading gave %v", err)
			}
			if !errors.Is(err, catalog.ErrInvalid) {
				t.Fatalf("error %v, want catalog.ErrInvalid", err)
			}
		})
	}
	if _, got := readAll(t, good); len(got) != 1000 {
		t.Fatalf("good catalog: %d products", len(got))
	}
}

// FuzzNewReader feeds arbitrary bytes to NewReader and a full read: errors,
// never a panic or a blown heap (the fuzzer's worker would be killed). The corpus holds the damaged catalogs of
// hostileCatalogs (testdata/fuzz/FuzzNewReader).
func FuzzNewReader(f *testing.F) {
	good := realisticCatalog(f, 40)
	f.Add(good)
	for _, b := range hostileCatalogs(f, good) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := catalog.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		defer r.Close()
		for err == nil {
			_, err = r.Next()
		}
	})
}
