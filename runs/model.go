// Package runs is the one model of a run: it owns run.json (Record), the
// children's result records, re-run lineage (a re-run's index -> the daily
// run's), and each shop's story across the run and its re-runs. Load reads
// all of it once (one listing, the records in parallel, the engine's view
// through the small Engine interface); status, the report, rerun --failed
// and the summary only render the Model. State is the one vocabulary of
// outcomes.
package runs

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
)

// Step is one stage of the graph as the model needs it: its name and the
// stages whose child i must succeed before its child i runs.
type Step struct {
	Name  string
	After []string
}

// Steps turns the stage graph into Steps.
func Steps(nodes []stages.Node) []Step {
	out := make([]Step, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, Step{Name: n.Stage.Name(), After: slices.Clone(n.After)})
	}
	return out
}

// Child is what the engine knows of one child of a job.
type Child struct {
	// Index is the child's index in its record's manifest.
	Index int64 `json:"index"`
	// Status is the engine's job status (SUBMITTED ... FAILED).
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	ExitCode  *int32    `json:"exit_code,omitempty"`
	JobID     string    `json:"job_id,omitempty"`
	LogStream string    `json:"log_stream,omitempty"`
	Attempts  int       `json:"attempts,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	Stopped   time.Time `json:"stopped,omitzero"`
}

// Engine is what Load asks the Batch engine. The planner adapts the Batch
// API to it (planner.EngineOf), so that this package and its readers (the
// report) link no Batch client.
type Engine interface {
	// Children reports the children of job at the given indexes of the
	// record's manifest, or every child when indexes is nil. Children the
	// engine does not know are left out.
	Children(ctx context.Context, job Job, indexes []int64) ([]Child, error)
}

// Options select what Load reads. The zero value reads every shop from
// result records alone.
type Options struct {
	// Engine, if set, is asked about every submitted job; children that
	// left no result record (killed, timed out, running) get its view.
	Engine Engine
	// Indexes and ShopIDs narrow the model to these daily-run shops (both
	// empty: every shop). A narrow model reads only their records.
	Indexes []int64
	ShopIDs []string
	// Steps is the stage graph (default: the stages of run.json's groups,
	// with the order and dependencies of its jobs).
	Steps []Step
	// Log receives warnings about unreadable records (default: discard).
	Log *slog.Logger
	// Concurrency is how many result records are read at once (default 32).
	Concurrency int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// RequireRecord makes a missing run.json an error (matching
	// store.ErrNotFound) instead of a model without Record.
	RequireRecord bool
}

// Attempt is one child of the daily run or of a re-run for one shop and
// stage: the engine's view and the child's result record, read once.
type Attempt struct {
	// Rerun is 0 for the daily run, k for re-run k.
	Rerun int `json:"rerun,omitempty"`
	// Index is the child's index in that run's manifest.
	Index int64 `json:"index"`
	State State `json:"state"`
	// JobID is the child's Batch job id (from the engine, the record, or
	// run.json).
	JobID string `json:"job_id,omitempty"`
	// Engine is nil when the engine was not asked or does not know the
	// child; Result is nil when the child left no record.
	Engine *Child         `json:"engine,omitempty"`
	Result *stages.Result `json:"result,omitempty"`
}

// Known reports whether the engine or a result record knows the attempt
// (else it is a re-run's submitted child nobody has reported on yet).
func (a *Attempt) Known() bool { return a.Engine != nil || a.Result != nil }

// Story is one shop in one stage across the run and its re-runs.
type Story struct {
	Stage string `json:"stage"`
	// State is the latest attempt's, or for a shop with no finished
	// attempt, what its upstream stages imply.
	State State `json:"state"`
	// Waiting is true when State is Pending because a stage it waits for
	// has not finished.
	Waiting bool `json:"waiting,omitempty"`
	// History is every attempt, daily run first, then each re-run in order.
	History []Attempt `json:"history"`
}

// Latest is the story's latest attempt, or nil.
func (s *Story) Latest() *Attempt {
	if len(s.History) == 0 {
		return nil
	}
	return &s.History[len(s.History)-1]
}

// Shop is one shop of the run: its manifest row and its story per stage.
type Shop struct {
	Index     int64    `json:"index"`
	ShopID    string   `json:"shop_id"`
	Name      string   `json:"name"`
	Platforms []string `json:"platforms,omitempty"`
	// Stories[i] is the shop in Model.Steps[i].
	Stories []Story `json:"stories"`
}

// Rerun is one re-run of the run.
type Rerun struct {
	K int `json:"k"`
	// Record is nil when only the re-run's manifest was found.
	Record    *Record   `json:"-"`
	Shops     int64     `json:"shops"`
	CreatedAt time.Time `json:"created_at"`
	// Stages are the stages the re-run ran, in graph order.
	Stages []string `json:"stages"`
	// origin maps the re-run's manifest indexes to the daily run's.
	origin map[int64]int64
}

// Model is a run with its re-runs, read once: run.json, the manifests, every
// result record and (optionally) the engine's view, folded per shop.
type Model struct {
	Run string `json:"run"`
	// Record is run.json, nil when the run has none.
	Record   *Record       `json:"-"`
	Manifest manifest.Meta `json:"-"`
	Steps    []Step        `json:"-"`
	Reruns   []Rerun       `json:"reruns"`
	Shops    []Shop        `json:"shops"`
	// Narrow is true when the model holds only selected shops.
	Narrow bool `json:"narrow,omitempty"`
	// EngineError is set when the engine could not be asked; the model then
	// comes from result records alone.
	EngineError string    `json:"engine_error,omitempty"`
	LoadedAt    time.Time `json:"loaded_at"`
}

// StageIndex is the position of stage in Steps, or -1.
func (m *Model) StageIndex(stage string) int {
	return slices.IndexFunc(m.Steps, func(s Step) bool { return s.Name == stage })
}
