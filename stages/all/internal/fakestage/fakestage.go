// Package fakestage is a stage added the way every stage is: one package
// (this file and its conformance test) plus one line in the graph. The
// stages/all tests add it to a copy of the graph to show that a new stage's
// options, job definition and conformance test are all the pipeline asks.
package fakestage

import (
	"context"
	"fmt"
	"strings"

	"github.com/feedbatch/feedbatch/stages"
)

// OptGreeting is the stage's one option.
const OptGreeting = "fake.greeting"

var declared = []stages.Option{stages.Text(OptGreeting, "hello", "what the fake stage writes before the shop's name")}

var declaredSet = stages.NewOptions(declared)

// Stage writes "<greeting> <shop name>" to shops/<id>/fake.txt.
type Stage struct{}

// New returns the stage.
func New() *Stage { return &Stage{} }

// Name implements stages.Stage.
func (*Stage) Name() string { return "fake" }

// Options implements stages.Optioner.
func (*Stage) Options() []stages.Option { return declared }

// Key is the stage's one output.
func Key(shopID string) string { return "shops/" + shopID + "/fake.txt" }

// Run implements stages.Stage.
func (*Stage) Run(ctx context.Context, job stages.Job) (stages.Result, error) {
	cfg, err := stages.JobConfig(job, declaredSet)
	if err != nil {
		return stages.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return stages.Result{}, err
	}
	text := cfg.String(OptGreeting) + " " + job.Row.Name + "\n"
	key := Key(job.Row.ShopID)
	if err := job.Store.Put(ctx, key, strings.NewReader(text), nil); err != nil {
		return stages.Result{}, fmt.Errorf("write %s: %w", key, err)
	}
	return stages.Result{ItemsIn: 1, ItemsOut: 1, Bytes: int64(len(text)), Outputs: []string{key}}, nil
}
