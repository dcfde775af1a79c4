// Package image is the image stage. (Being written: see DESIGN.md section 6.)
package image

import (
	"context"
	"errors"

	"github.com/feedbatch/feedbatch/stages"
)

// Stage is the image stage.
type Stage struct{}

// New returns the image stage.
func New() *Stage { return &Stage{} }

// Name implements stages.Stage.
func (*Stage) Name() string { return "image" }

// Run implements stages.Stage.
func (*Stage) Run(ctx context.Context, job stages.Job) (stages.Result, error) {
	return stages.Result{}, errors.New("image: not implemented yet")
}
