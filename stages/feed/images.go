package feed

import (
	"context"
	"strings"

	"github.com/feedbatch/feedbatch/delivery"
	"github.com/feedbatch/feedbatch/stages"
)

// ImageMap rewrites a product's source image URL to the URL of the image
// the image stage processed for it.
type ImageMap interface {
	// Lookup returns the published URL for src, or src itself when there is
	// no processed image for it.
	Lookup(src string) string
}

// indexMap is base URL + processed key for every source URL in the image
// index.
type indexMap struct {
	base string
	ix   stages.ImageIndex
}

func (m indexMap) Lookup(src string) string {
	if k, ok := m.ix.ImageKey(src); ok && k != "" {
		return m.base + k
	}
	return src
}

// loadImageMap reads the shop's image index through s.Images when there is
// a base URL (feed.image_base_url, else the deployment's public URL). When
// the index is read (the image stage runs beside feed, not before it) is
// decided and explained in stages/all. A shop without an index keeps its
// catalog links.
func (s *Stage) loadImageMap(ctx context.Context, job stages.Job, opts stages.Config) (ImageMap, error) {
	if s.Images == nil {
		return nil, nil
	}
	base := opts.String(OptImageBaseURL)
	if base == "" {
		// In AWS the job definition names the CloudFront distribution: a
		// per-deployment fact, not a per-shop option.
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
	ix, err := s.Images(ctx, job.Store, job.Row.ShopID)
	if err != nil {
		return nil, err
	}
	if ix == nil || ix.Len() == 0 {
		if job.Log != nil {
			job.Log.Info("no image index; image links left as in the catalog")
		}
		return nil, nil
	}
	return indexMap{base: base, ix: ix}, nil
}
