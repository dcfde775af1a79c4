// Package collect is the collect stage. (Being written: see DESIGN.md section 6.)
package collect

import (
	"context"
	"errors"

	"github.com/feedbatch/feedbatch/stages"
)

// Stage is the collect stage.
type Stage struct{}

// New returns the collect stage.
func New() *Stage { return &Stage{} }

// Name implements stages.Stage.
func (*Stage) Name() string { return "collect" }

// Run implements stages.Stage.
func (*Stage) Run(ctx context.Context, job stages.Job) (stages.Result, error) {
	return stages.Result{}, errors.New("collect: not implemented yet")
}
