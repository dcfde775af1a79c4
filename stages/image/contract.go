package image

import (
	"context"

	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// ImageKey implements stages.ImageIndex: the processed image's key for src.
func (ix *Index) ImageKey(src string) (string, bool) {
	e, ok := ix.Lookup(src)
	return e.Key, ok && e.Key != ""
}

// LoadImageIndex is LoadIndex as a stages.ImageIndexLoader, for the graph
// to hand to the stages that read the index.
func LoadImageIndex(ctx context.Context, st store.Store, shopID string) (stages.ImageIndex, error) {
	ix, err := LoadIndex(ctx, st, shopID)
	if err != nil {
		return nil, err
	}
	return ix, nil
}

var _ stages.ImageIndexLoader = LoadImageIndex
