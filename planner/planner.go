// Package planner turns a list of shops into AWS Batch submissions and reads
// back what happened: the daily plan (manifest + one array job per stage),
// partial re-runs over subset manifests, and per-shop status across a run
// and its re-runs.
//
// It talks to Batch only through small interfaces satisfied by
// aws-sdk-go-v2's *batch.Client, so the same code path drives AWS Batch and
// the project's local engine (a Batch client whose BaseEndpoint is on
// loopback).
//
// # Submitting exactly once
//
// Schedulers deliver at least once and planners crash or stall, so a run id
// is claimed before anything is submitted: runs/<run>/run.json is created
// with a conditional write (store.Store.Swap with no ETag) in state
// "planning", listing the deterministic job names it is about to submit
// (the intent) and the planner's owner token.
//
// Ownership is fenced: every later write of the record is a Swap on the
// ETag this planner last wrote, so a planner whose record was taken over
// fails that write with ErrClaimLost instead of overwriting it. The record
// is written (renewing the lease) before the manifest, right before every
// SubmitJob and after it (with the new job id), so a planner paused past
// its lease finds out before it submits.
// Before any SubmitJob the job is looked up by its name (ListJobs, JOB_NAME
// filter on the queue) and adopted if it exists. The manifest is written
// once, with IfAbsent, and never rewritten (except by Replan): a planner
// that finds one keeps it and lays its jobs out for its rows.
//
// A second planner for the same run id:
//   - finds state "submitted": submits nothing and fails with ErrRunExists
//     (unless Replan, which archives the old record and plans again, with
//     job names of a new generation);
//   - finds state "planning" written less than Lease ago: another planner
//     is at work; fails with ErrRunBusy, or with WaitBusy looks again until
//     the run is submitted (ErrRunExists) or the lease runs out;
//   - finds state "planning" older than Lease: takes the record over (a
//     Swap on the ETag it read, so of several such planners one wins) and
//     resumes, adopting by name what the previous owner submitted.
//
// What remains: Batch has no conditional SubmitJob, so a planner stopped for
// longer than the lease between that write and the SubmitJob request itself
// (a window of one local call) can still submit once after a takeover; the
// new owner's look-up finds that job only if it was created before the
// look-up.
//
// SubmitJob itself is retried only on throttling (the request was refused,
// so nothing was created). Any other error from SubmitJob (a timeout, a
// dropped connection) is answered by the same ListJobs lookup before the
// error is reported.
package planner

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages"
)

// Batch API consumed by the planner (aws-sdk-go-v2's *batch.Client has all).
type (
	submitter interface {
		SubmitJob(ctx context.Context, in *batch.SubmitJobInput, opts ...func(*batch.Options)) (*batch.SubmitJobOutput, error)
	}
	lister interface {
		ListJobs(ctx context.Context, in *batch.ListJobsInput, opts ...func(*batch.Options)) (*batch.ListJobsOutput, error)
	}
	describer interface {
		DescribeJobs(ctx context.Context, in *batch.DescribeJobsInput, opts ...func(*batch.Options)) (*batch.DescribeJobsOutput, error)
	}
)

// Submitter is what Plan and Rerun need from a Batch client.
type Submitter interface {
	submitter
	lister
}

// Watcher is what Wait and Status need from a Batch client.
type Watcher interface {
	lister
	describer
}

// Errors are checked with errors.Is.
var (
	// ErrRunExists: the run id was already planned and submitted.
	ErrRunExists = errors.New("planner: run already planned")
	// ErrRunBusy: another planner is submitting this run right now.
	ErrRunBusy = errors.New("planner: run is being planned by another planner")
	// ErrClaimLost: another planner took the run over (this one was out of
	// touch past its lease); this one stopped.
	ErrClaimLost = errors.New("planner: another planner took over the run")
	// ErrNothingToRun: a re-run selection chose no shop.
	ErrNothingToRun = errors.New("planner: nothing to re-run")
	// ErrBadRunID: the run id is not usable as a key segment and job name.
	ErrBadRunID = errors.New("planner: bad run id")
)

// MaxArraySize is AWS Batch's largest array; bigger groups are sharded.
const MaxArraySize = 10_000

// DefaultLease is how long a "planning" record is considered alive.
const DefaultLease = 2 * time.Minute

// Step is one stage of the graph: its name and the stages whose child i
// must succeed before its child i runs (the run model's type).
type Step = runs.Step

// Steps converts the stage graph (stages/all.Graph) into steps.
func Steps(nodes []stages.Node) []Step { return runs.Steps(nodes) }

// Downstream returns the chosen stages plus every stage that (transitively)
// waits for one of them, in graph order.
func Downstream(steps []Step, chosen []string) []string {
	in := map[string]bool{}
	for _, c := range chosen {
		in[c] = true
	}
	for changed := true; changed; {
		changed = false
		for _, s := range steps {
			if in[s.Name] {
				continue
			}
			for _, a := range s.After {
				if in[a] {
					in[s.Name], changed = true, true
					break
				}
			}
		}
	}
	var out []string
	for _, s := range steps {
		if in[s.Name] {
			out = append(out, s.Name)
		}
	}
	return out
}

// DefaultJobDefinition is the job definition name of a stage
// ("feedbatch-collect"), as registered locally and in cfn/template.yaml.
func DefaultJobDefinition(stage string) string { return "feedbatch-" + stage }

// JobDefinitionCommand is the command a stage's job definition runs.
func JobDefinitionCommand(stage string) []string { return []string{"feedbatch", "stage", stage} }

var runIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// CheckRunID reports whether id can name a run: 1-64 letters, digits, '-'
// or '_', starting with a letter or digit (a key segment and part of a
// Batch job name).
func CheckRunID(id string) error {
	if !runIDRE.MatchString(id) {
		return fmt.Errorf("%w %q: want 1-64 letters, digits, '-' or '_'", ErrBadRunID, id)
	}
	return nil
}

// DefaultRunID is the run id of a daily run started at t: its UTC date.
func DefaultRunID(t time.Time) string { return t.UTC().Format(time.DateOnly) }
