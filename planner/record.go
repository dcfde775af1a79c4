package planner

import (
	"context"

	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/store"
)

// The run record (run.json) is owned by package runs; these names keep the
// planner's callers compiling.
type (
	Record = runs.Record
	Group  = runs.Group
	Job    = runs.Job
)

// Record states.
const (
	StatePlanning  = runs.StatePlanning
	StateSubmitted = runs.StateSubmitted
)

// RunDir is runs/<run>.
func RunDir(run string) string { return runs.RunDir(run) }

// RecordKey is runs/<run>/run.json.
func RecordKey(run string) string { return runs.RecordKey(run) }

// RerunRecordKey is runs/<run>/reruns/<k>/run.json.
func RerunRecordKey(run string, k int) string { return runs.RerunRecordKey(run, k) }

// ReadRecord reads the run.json at key (see runs.ReadRecord).
func ReadRecord(ctx context.Context, st store.Store, key string) (*Record, error) {
	return runs.ReadRecord(ctx, st, key)
}

// Reruns reads every re-run record of run, in order of k.
func Reruns(ctx context.Context, st store.Store, run string) ([]*Record, error) {
	return runs.Reruns(ctx, st, run)
}

func encodeRecord(r *Record) ([]byte, error) { return runs.EncodeRecord(r) }
