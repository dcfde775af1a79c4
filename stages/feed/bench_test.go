package feed

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/catalog"
)

// benchCatalog is n realistic products (Korean and English text, entities
// to escape, sale prices, extra images).
func benchCatalog(n int) []catalog.Product {
	ps := make([]catalog.Product, n)
	desc := strings.Repeat("부드러운 메리노 울 100%로 만든 데일리 니트입니다. Machine wash cold & tumble dry <low>. ", 7)
	for i := range ps {
		ps[i] = catalog.Product{
			ID: fmt.Sprintf("SKU-%07d", i), ItemGroupID: fmt.Sprintf("G-%06d", i/4),
			Title:       fmt.Sprintf("[브랜드%d] 남성 울 스웨터 네이비 classic slim fit %d", i%500, i),
			Description: desc,
			Link:        fmt.Sprintf("https://shop.example.com/products/%d?variant=%d&utm_source=feed", i/4, i),
			MobileLink:  fmt.Sprintf("https://m.shop.example.com/products/%d", i/4),
			ImageLink:   fmt.Sprintf("https://cdn.example.com/images/%d/main.jpg", i),
			AdditionalImageLinks: []string{
				fmt.Sprintf("https://cdn.example.com/images/%d/1.jpg", i),
				fmt.Sprintf("https://cdn.example.com/images/%d/2.jpg", i),
			},
			Price: 59000, SalePrice: int64(49000 * (i % 2)), Currency: "KRW", Availability: "in_stock",
			Condition: "new", Brand: "브랜드", GTIN: "8801234567893", MPN: "MPN-1",
			CategoryPath: "의류 > 남성 > 니트", ProductType: "212", ShippingCost: 3000, ShippingCountry: "KR",
		}
	}
	return ps
}

func benchRender(b *testing.B, platform string, raw bool) {
	ps := benchCatalog(10000)
	p, err := NewPlatform(platform, Config{Country: "KR"})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var bytes int64
	cpu0 := cpuTime()
	for b.Loop() {
		r := &Renderer{Platforms: []Platform{p}, Channel: Channel{Title: "b"}, TempDir: dir, Raw: raw}
		outs, err := r.Render(context.Background(), sliceNext(ps))
		if err != nil {
			b.Fatal(err)
		}
		bytes = outs[0].RawBytes
		outs[0].Remove()
	}
	cpu := cpuTime() - cpu0
	b.SetBytes(bytes)
	b.ReportMetric(float64(len(ps))*float64(b.N)/b.Elapsed().Seconds(), "items/s")
	// The machine may be shared: CPU time per item is the steadier figure.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(ps)*b.N), "cpu-ns/item")
}

// cpuTime is the process's user+system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkRenderGoogle(b *testing.B)    { benchRender(b, "google", false) }
func BenchmarkRenderMeta(b *testing.B)      { benchRender(b, "meta", false) }
func BenchmarkRenderNaver(b *testing.B)     { benchRender(b, "naver", false) }
func BenchmarkFormatGoogleRaw(b *testing.B) { benchRender(b, "google", true) }

// BenchmarkEscape compares the hand-rolled escaper with encoding/xml's.
func BenchmarkEscape(b *testing.B) {
	s := strings.Repeat("부드러운 메리노 울 100%로 만든 니트. Wash cold & dry <low>. ", 10)
	w := bufio.NewWriter(io.Discard)
	b.Run("writeXMLText", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			writeXMLText(w, cleanText(s))
		}
	})
	b.Run("xml.EscapeText", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		for b.Loop() {
			xml.EscapeText(w, []byte(s))
		}
	})
	b.Run("xml.Encoder", func(b *testing.B) {
		b.SetBytes(int64(len(s)))
		enc := xml.NewEncoder(w)
		start := xml.StartElement{Name: xml.Name{Local: "g:description"}}
		for b.Loop() {
			enc.EncodeToken(start)
			enc.EncodeToken(xml.CharData(s))
			enc.EncodeToken(start.End())
		}
		enc.Flush()
	})
}

func BenchmarkCleanText(b *testing.B) {
	p := benchCatalog(1)[0]
	for _, tc := range []struct{ name, s string }{{"description", p.Description}, {"title", p.Title}, {"link", p.Link}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.s)))
			for b.Loop() {
				cleanText(tc.s)
			}
		})
	}
}
