package image

import (
	"bytes"
	"image/color"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/internal/s3test"
)

// TestS3 runs the stage against a real S3 API server on loopback: images
// fetched over HTTP and from a mirror prefix in the bucket, outputs and
// index in the bucket, and an unchanged second run that does no image work.
func TestS3(t *testing.T) {
	st := s3test.NewStore(t)
	srv := newFixtureServer(t)
	srv.set("/a.jpg", jpegBytes(t, 640, 480, color.RGBA{250, 10, 10, 255}))
	mirrored := pngBytes(t, 300, 500, color.RGBA{10, 10, 250, 255})
	if err := st.Put(t.Context(), "mirror/cdn.shop.example/b.png", bytes.NewReader(mirrored), nil); err != nil {
		t.Fatal(err)
	}
	putCatalog(t, st, "s3shop", []catalog.Product{{ID: "1", ImageLink: srv.URL + "/a.jpg"}})
	res, err := testStage().Run(t.Context(), testJob(st, "s3shop", nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[CountProcessed] != 1 {
		t.Fatalf("counts %v, want 1 processed", res.Counts)
	}
	res, err = testStage().Run(t.Context(), testJob(st, "s3shop", nil))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{CountRequests: 1, CountConditional: 1, CountNotModified: 1, CountReused: 1}, counts(res)); diff != "" || !res.Unchanged {
		t.Errorf("second run (unchanged %v) counts (-want +got):\n%s", res.Unchanged, diff)
	}

	// A shop whose images come from a mirror prefix in the bucket.
	putCatalog(t, st, "mirrored", []catalog.Product{{ID: "1", ImageLink: "https://cdn.shop.example/b.png"}})
	opts := map[string]string{"image.mirror": "store:mirror"}
	if _, err := testStage().Run(t.Context(), testJob(st, "mirrored", opts)); err != nil {
		t.Fatal(err)
	}
	ix, err := LoadIndex(t.Context(), st, "mirrored")
	if err != nil {
		t.Fatal(err)
	}
	e := ix.Entries["https://cdn.shop.example/b.png"]
	checkJPEG(t, st, e.Key, 120, 120)
	res, err = testStage().Run(t.Context(), testJob(st, "mirrored", opts))
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[CountNotModified] != 1 || res.Counts[CountDownloaded] != 0 {
		t.Errorf("mirror re-run counts %v, want not_modified by ETag and nothing read", res.Counts)
	}
}
