package catalog_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/catalog/catalogtest"
)

// benchRows is the size of the catalog the read benchmarks scan.
const benchRows = 100_000

var benchCatalog = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	w := catalog.NewWriter(&buf)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range benchRows {
		if err := w.Write(catalogtest.Product(i, r)); err != nil {
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

// BenchmarkOpen is NewReader alone on the 100k-product catalog: the footer
// and every page header and zstd frame header checked, nothing decoded.
// Compare its cpu-ns/product with BenchmarkRead's.
func BenchmarkOpen(b *testing.B) {
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
		r.Close()
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*benchRows), "cpu-ns/product")
}
