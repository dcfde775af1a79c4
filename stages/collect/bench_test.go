package collect_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages/collect"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// BenchmarkCollect10k runs the whole stage on a 10,000-row CSV (bench/
// collect.sh measures 100k and 1M rows with peak memory).
func BenchmarkCollect10k(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("id,title,description,link,image_link,price,availability,brand\n")
	for i := range 10000 {
		fmt.Fprintf(&sb, "SKU-%d,\"Product %d, blue\",Soft cotton shirt for everyday wear,https://shop.example/p/%d,https://cdn.example/%d.jpg,%d.99 USD,in stock,Acme\n", i, i, i, i, 10+i%90)
	}
	path := filepath.Join(b.TempDir(), "c.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		st := memstore.New()
		if _, err := collect.New().Run(b.Context(), newJob(st, manifest.Source{URL: "file://" + path}, "USD", nil)); err != nil {
			b.Fatal(err)
		}
	}
}
