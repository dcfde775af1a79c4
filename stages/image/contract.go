package image

import (
	"context"

	"github.com/feedbatch/feedbatch/manifest"
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

// SpecFor is the spec a row's images are made to, as a string ("800x800-
// q85-ffffff-v3"): the row's image spec with defaults filled in and raised
// to the largest minimum of its platforms (stages/platform).
func SpecFor(row manifest.Row) (string, error) {
	s, err := specFor(row)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}
