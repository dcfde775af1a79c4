package manifest_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// FuzzManifestRoundTrip writes rows built from the fuzzer's strings and
// checks that every row reads back equal, by lookup and in full.
func FuzzManifestRoundTrip(f *testing.F) {
	f.Add("shop-a", "Shop A", "https://a.example/feed.csv", "google,meta", "KRW", "encoding", "euc-kr", uint16(3))
	f.Add("한글", "가게 \x00 name", "file:///x y/z.tsv", "", "", "", "", uint16(1))
	f.Add("s", strings.Repeat("x", 5000), "s3://b/k", "naver", "USD", "k", "", uint16(40))
	f.Fuzz(func(t *testing.T, id, name, url, platforms, currency, optKey, optVal string, n uint16) {
		count := int(n%64) + 1
		rows := make([]manifest.Row, count)
		for i := range rows {
			r := manifest.Row{
				Index:       int64(i),
				ShopID:      id + "-" + string(rune('a'+i%26)) + strings.Repeat("z", i/26),
				Name:        name,
				Source:      manifest.Source{URL: url, Format: "csv"},
				Currency:    currency,
				Image:       manifest.DefaultImageSpec,
				OriginIndex: int64(i) - 1,
			}
			if platforms != "" {
				r.Platforms = strings.Split(platforms, ",")
			}
			if i%2 == 1 {
				r.Source.Options = map[string]string{optKey: optVal}
				r.Options = map[string]string{"feed." + optKey: optVal}
			}
			rows[i] = r
		}
		st := memstore.New()
		if err := manifest.Save(t.Context(), st, "m.parquet", manifest.Meta{RunID: id}, rows, nil); err != nil {
			t.Fatal(err)
		}
		file, err := manifest.Open(t.Context(), st, "m.parquet")
		if err != nil {
			t.Fatal(err)
		}
		if file.Meta().RunID != id {
			t.Errorf("run id %q, want %q", file.Meta().RunID, id)
		}
		for i := range rows {
			got, err := file.Row(t.Context(), int64(i))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rows[i], got, equateEmpty); diff != "" {
				t.Fatalf("row %d (-want +got):\n%s", i, diff)
			}
		}
		all, err := file.All(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rows, all, equateEmpty); diff != "" {
			t.Fatalf("All (-want +got):\n%s", diff)
		}
	})
}

// FuzzOpen feeds arbitrary bytes to Open, Row and All: they must return
// errors, never panic.
func FuzzOpen(f *testing.F) {
	if b, err := os.ReadFile("testdata/small.parquet"); err == nil {
		f.Add(b)
		// Damaged copies: flipped bytes in the footer, truncated.
		for _, at := range []int{len(b) - 20, len(b) - 100, len(b) / 2, 10} {
			c := bytes.Clone(b)
			c[at] ^= 0xff
			f.Add(c)
		}
		f.Add(b[:len(b)/2])
		f.Add(b[len(b)/2:])
		// Codecs the project does not write, a zstd page bomb (also in
		// testdata/fuzz/FuzzOpen).
		for _, c := range hostileManifests(f, b) {
			f.Add(c)
		}
	}
	f.Add([]byte("PAR1"))
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Add([]byte("PAR1\xff\xff\xff\x7fPAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st := memstore.New()
		if err := st.Put(t.Context(), "m.parquet", bytes.NewReader(data), nil); err != nil {
			t.Fatal(err)
		}
		file, err := manifest.Open(t.Context(), st, "m.parquet")
		if err != nil {
			return
		}
		for i := range min(file.NumRows(), 8) {
			_, _ = file.Row(t.Context(), i)
		}
		_, _ = file.All(t.Context())
	})
}
