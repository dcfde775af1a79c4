package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// ImageMap rewrites a product's source image URL to the URL of the image
// the image stage processed for it.
type ImageMap interface {
	// Lookup returns the published URL for src, or src itself when there is
	// no processed image for it.
	Lookup(src string) string
}

// ImageIndexKey is where the feed stage looks for the image stage's index of
// processed images: a JSON object mapping source URL to store key.
func ImageIndexKey(shopID string) string {
	return fmt.Sprintf("shops/%s/images/index.json", shopID)
}

// keyMap is base URL + processed key for every source URL in the index.
type keyMap struct {
	base string
	keys map[string]string
}

func (m keyMap) Lookup(src string) string {
	if k, ok := m.keys[src]; ok {
		return m.base + k
	}
	return src
}

// loadImageMap reads the image index when feed.image_base_url is set. A
// missing index means no processed images yet (the image stage runs beside
// feed, not before it): links are left as they are.
func loadImageMap(ctx context.Context, job stages.Job) (ImageMap, error) {
	base := job.Row.Options[OptImageBaseURL]
	if base == "" {
		return nil, nil
	}
	if _, ok := normURL(base); !ok {
		return nil, stages.Permanentf("option %s=%q: want an absolute http(s) URL", OptImageBaseURL, base)
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	key := ImageIndexKey(job.Row.ShopID)
	rc, err := job.Store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		if job.Log != nil {
			job.Log.Info("no image index; image links left as in the catalog", "key", key)
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image index %s: %w", key, err)
	}
	defer rc.Close()
	keys := map[string]string{}
	if err := json.NewDecoder(io.LimitReader(rc, 1<<30)).Decode(&keys); err != nil {
		return nil, fmt.Errorf("image index %s: %w", key, err)
	}
	return keyMap{base: base, keys: keys}, nil
}
