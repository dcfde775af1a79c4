package catalog_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/catalog"
)

// benchRows is the size of the catalog the read benchmarks scan.
const benchRows = 100_000

var benchWords = []string{
	"울", "스웨터", "니트", "가디건", "코튼", "셔츠", "데님", "팬츠", "네이비", "블랙", "그레이",
	"wool", "merino", "classic", "slim", "fit", "premium", "basic", "oversized", "crew-neck",
}

var benchSentences = []string{
	"부드러운 메리노 울 100%로 만든 데일리 니트입니다.",
	"Machine wash cold & tumble dry low; do not bleach.",
	"가볍고 따뜻하여 겨울철 이너로 활용하기 좋습니다.",
	"Relaxed fit with ribbed cuffs <b>and</b> hem for a clean look.",
	"모델 착용 사이즈는 M이며, 키 180cm 기준입니다.",
	"Imported. Fabric sourced from certified mills in Italy.",
}

// benchProduct is product i of a catalog shaped like a real shop's: Korean
// and English titles, ~600-byte descriptions, URLs, dictionary columns.
func benchProduct(i int, r *rand.Rand) catalog.Product {
	var title strings.Builder
	fmt.Fprintf(&title, "[브랜드%d] ", i%500)
	for range 5 + r.IntN(4) {
		title.WriteString(benchWords[r.IntN(len(benchWords))])
		title.WriteByte(' ')
	}
	fmt.Fprintf(&title, "%d", i)
	var desc strings.Builder
	for desc.Len() < 600 {
		desc.WriteString(benchSentences[r.IntN(len(benchSentences))])
		desc.WriteByte(' ')
	}
	price := int64(10000 + 100*r.IntN(4900))
	p := catalog.Product{
		ID:          fmt.Sprintf("SKU-%07d", i),
		ItemGroupID: fmt.Sprintf("G-%06d", i/4),
		Title:       title.String(),
		Description: strings.TrimSpace(desc.String()),
		Link:        fmt.Sprintf("https://shop.example.com/products/%d?variant=%d&utm_source=feed", i/4, i),
		MobileLink:  fmt.Sprintf("https://m.shop.example.com/products/%d", i/4),
		ImageLink:   fmt.Sprintf("https://cdn.example.com/images/%d/main.jpg", i),
		AdditionalImageLinks: []string{
			fmt.Sprintf("https://cdn.example.com/images/%d/1.jpg", i),
			fmt.Sprintf("https://cdn.example.com/images/%d/2.jpg", i),
		},
		Price: price, Currency: "KRW", Availability: catalog.AvailabilityInStock,
		Condition: catalog.ConditionNew, Brand: fmt.Sprintf("브랜드%d", i%500),
		GTIN: fmt.Sprintf("880%010d", i), MPN: fmt.Sprintf("MPN-%d", i),
		CategoryPath: "의류 > 남성 > 니트", ProductType: "212",
		ShippingCost: 3000, ShippingCountry: "KR", CustomLabel0: "winter",
	}
	if r.IntN(10) < 3 {
		p.SalePrice = price * 8 / 10
	}
	if r.IntN(10) == 0 {
		p.Availability = catalog.AvailabilityOutOfStock
	}
	return p
}

var benchCatalog = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	w := catalog.NewWriter(&buf)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range benchRows {
		if err := w.Write(benchProduct(i, r)); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
})

// BenchmarkRead scans a 100k-product zstd catalog with Reader.Next, as the
// feed stage does. It reports ns/product and allocs/product; MB/s is over
// the file's compressed bytes.
func BenchmarkRead(b *testing.B) {
	data, err := benchCatalog()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		r, err := catalog.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		r.Close()
		if n != benchRows {
			b.Fatalf("read %d products, want %d", n, benchRows)
		}
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRows), "ns/product")
	// The machine is shared and the GC runs on other cores: CPU time (user
	// + system, whole process) per product is the cost that matters.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*benchRows), "cpu-ns/product")
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
