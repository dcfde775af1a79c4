package feed

import (
	"context"
	"strings"

	"github.com/feedbatch/feedbatch/delivery"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/image"
)

// ImageMap rewrites a product's source image URL to the URL of the image
// the image stage processed for it.
type ImageMap interface {
	// Lookup returns the published URL for src, or src itself when there is
	// no processed image for it.
	Lookup(src string) string
}

// indexMap is base URL + processed key for every source URL in the image
// stage's index.
type indexMap struct {
	base string
	ix   *image.Index
}

func (m indexMap) Lookup(src string) string {
	if e, ok := m.ix.Lookup(src); ok && e.Key != "" {
		return m.base + e.Key
	}
	return src
}

// loadImageMap reads the image stage's index (image.LoadIndex) when
// feed.image_base_url is set. The image stage runs beside feed, not before
// it, so the index is the one its last run left (often the previous day's);
// its keys are content-addressed, so an entry stays valid for as long as the
// processed image is kept. A shop without an index keeps its catalog links.
func loadImageMap(ctx context.Context, job stages.Job) (ImageMap, error) {
	base := job.Row.Options[OptImageBaseURL]
	if base == "" {
		// In AWS the job definition names the CloudFront distribution.
		base = delivery.PublicBaseURL()
	}
	if base == "" {
		return nil, nil
	}
	if _, ok := normURL(base); !ok {
		return nil, stages.Permanentf("option %s=%q: want an absolute http(s) URL", OptImageBaseURL, base)
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	ix, err := image.LoadIndex(ctx, job.Store, job.Row.ShopID)
	if err != nil {
		return nil, err
	}
	if ix.Len() == 0 {
		if job.Log != nil {
			job.Log.Info("no image index; image links left as in the catalog", "key", image.IndexKey(job.Row.ShopID))
		}
		return nil, nil
	}
	return indexMap{base: base, ix: ix}, nil
}
