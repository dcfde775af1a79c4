// Package feed is the feed stage. (Being written: see DESIGN.md section 6.)
package feed

import (
	"context"
	"errors"

	"github.com/feedbatch/feedbatch/stages"
)

// Stage is the feed stage.
type Stage struct{}

// New returns the feed stage.
func New() *Stage { return &Stage{} }

// Name implements stages.Stage.
func (*Stage) Name() string { return "feed" }

// Run implements stages.Stage.
func (*Stage) Run(ctx context.Context, job stages.Job) (stages.Result, error) {
	return stages.Result{}, errors.New("feed: not implemented yet")
}
