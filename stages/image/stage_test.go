package image

import (
	"image/color"
	"testing"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/stagetest"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// TestStageContract runs the conformance suite every stage passes.
func TestStageContract(t *testing.T) {
	srv := newFixtureServer(t)
	stagetest.Run(t, testStage(), func(t *testing.T) stages.Job {
		srv.set("/a.jpg", jpegBytes(t, 200, 150, color.RGBA{200, 10, 10, 255}))
		srv.set("/b.png", pngBytes(t, 30, 60, color.RGBA{10, 200, 10, 255}))
		st := memstore.New()
		putCatalog(t, st, "s1", []catalog.Product{
			{ID: "1", ImageLink: srv.URL + "/a.jpg", AdditionalImageLinks: []string{srv.URL + "/b.png"}},
		})
		return testJob(st, "s1", nil)
	}, stagetest.Change(func(t *testing.T, job stages.Job) stages.Job {
		// The shop replaced both pictures: every image is fetched and
		// published again.
		srv.set("/a.jpg", jpegBytes(t, 150, 200, color.RGBA{10, 10, 200, 255}))
		srv.set("/b.png", pngBytes(t, 60, 30, color.RGBA{200, 200, 10, 255}))
		return job
	}))
}
