package manifest_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/manifest"
)

// lookupCost opens a manifest of n shops and reads one row, returning the
// bytes and ranged reads it took and the file's size.
func lookupCost(t testing.TB, n int) (bytesRead, reads, size int64) {
	t.Helper()
	rows := shops(n)
	st, key := save(t, rows)
	info, err := st.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	idx := int64(n * 2 / 3)
	f, err := manifest.Open(t.Context(), st, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Row(t.Context(), idx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rows[idx], got, equateEmpty); diff != "" {
		t.Fatalf("row %d (-want +got):\n%s", idx, diff)
	}
	return f.BytesRead(), f.Reads(), info.Size
}

// TestLookupBytesFlat measures what one child reads to get its row, for 10,
// 10,000 and (FEEDBATCH_SCALE=1) 100,000 shops, and asserts the figure stays small and nearly
// flat while the file grows by four orders of magnitude.
func TestLookupBytesFlat(t *testing.T) {
	// 100,000 shops is a scale test (FEEDBATCH_SCALE=1): the README's
	// figure; 10,000 already shows the curve is flat.
	sizes := []int{10, 10_000}
	if os.Getenv(testtool.EnvScale) == "1" && !testing.Short() {
		sizes = append(sizes, 100_000)
	}
	got := map[int]int64{}
	for _, n := range sizes {
		b, calls, size := lookupCost(t, n)
		got[n] = b
		t.Logf("lookup one row of %7d shops: %6d bytes read in %2d ranged reads (file %9d bytes, %.2f%%)",
			n, b, calls, size, 100*float64(b)/float64(size))
		// Ranged reads are made in three rounds (tail, offset index,
		// pages), the last one concurrent; at most one per column chunk.
		if calls > 32 {
			t.Errorf("%d shops: %d ranged reads, want <= 32", n, calls)
		}
	}
	// 10 shops: the whole file (one read). Beyond that, the footer, one
	// row group's offset index and one page per column: tens of KB.
	for _, n := range sizes[1:] {
		if got[n] > 48<<10 {
			t.Errorf("%d shops: %d bytes read for one row, want <= 48 KiB", n, got[n])
		}
		if got[n] > 5*got[10] {
			t.Errorf("%d shops: %d bytes read, more than 5x the %d of 10 shops", n, got[n], got[10])
		}
	}
	if n := sizes[len(sizes)-1]; n == 100_000 && got[n] > 2*got[10_000] {
		t.Errorf("100,000 shops: %d bytes read, more than 2x the %d of 10,000 shops", got[n], got[10_000])
	}
}

// BenchmarkLookup opens a manifest and reads one row, as a child does.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			st, key := save(b, shops(n))
			var bytesRead int64
			i := int64(0)
			for b.Loop() {
				f, err := manifest.Open(b.Context(), st, key)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := f.Row(b.Context(), i%int64(n)); err != nil {
					b.Fatal(err)
				}
				bytesRead += f.BytesRead()
				i += 7919
			}
			b.ReportMetric(float64(bytesRead)/float64(b.N), "bytes-read/op")
		})
	}
}
