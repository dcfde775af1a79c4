package manifest_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/manifest"
)

// TestLookupOverS3 reads rows of a 10,000-shop manifest from a real S3 API
// server on loopback, as a child in AWS does: ranged GETs only.
func TestLookupOverS3(t *testing.T) {
	st := s3test.NewStore(t)
	rows := shops(10_000)
	key := manifest.Key("2026-11-23")
	if err := manifest.Save(t.Context(), st, key, meta("2026-11-23"), rows, nil); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []int64{0, 4321, 9999} {
		start := time.Now()
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
		t.Logf("S3 lookup of row %d of 10,000: %d bytes in %d ranged GETs, %v", idx, f.BytesRead(), f.Reads(), time.Since(start).Round(time.Millisecond))
		if f.BytesRead() > 48<<10 {
			t.Errorf("row %d: %d bytes read, want <= 48 KiB", idx, f.BytesRead())
		}
	}
}
