package planner

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/engine"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// Outcome states beyond the Batch job states (SUBMITTED ... FAILED).
const (
	// StateSkipped: the child failed without running because a stage it
	// waits for failed (statusReason "Dependent Job failed").
	StateSkipped = "SKIPPED"
	// StateUnknown: neither the engine nor a result record knows the child.
	StateUnknown = "UNKNOWN"
)

// ReasonDependentFailed is AWS Batch's statusReason of a job failed because
// one of its dependencies failed.
const ReasonDependentFailed = runs.ReasonDependentFailed

// batchStatuses are every job status, for ListJobs (which returns only
// RUNNING jobs when no status is given).
var batchStatuses = []types.JobStatus{
	types.JobStatusSubmitted, types.JobStatusPending, types.JobStatusRunnable,
	types.JobStatusStarting, types.JobStatusRunning, types.JobStatusSucceeded, types.JobStatusFailed,
}

// Outcome is what happened to one shop in one stage in one run or re-run.
type Outcome struct {
	// Run is the run id, Rerun the re-run number (0: the daily run).
	Run   string `json:"run"`
	Rerun int    `json:"rerun,omitempty"`
	// Index is the shop's index in that run's manifest.
	Index    int64  `json:"index"`
	State    string `json:"state"`
	Attempts int    `json:"attempts,omitempty"`
	ExitCode *int32 `json:"exit_code,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Error    string `json:"error,omitempty"`
	// Message is why a failed outcome failed, for people
	// (runs.Attempt.Lines joined by "; "); Reason and Error are the
	// engine's and the child's words as they are.
	Message string    `json:"message,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Stopped time.Time `json:"stopped,omitzero"`
	// DurationMS is the child's own duration (result record), else the
	// attempt's.
	DurationMS int64  `json:"duration_ms,omitempty"`
	JobID      string `json:"job_id,omitempty"`
	LogStream  string `json:"log_stream,omitempty"`
	// Platforms is how each platform fared, for a stage that publishes per
	// platform (feed): a failed child may have published some.
	Platforms map[string]stages.PlatformResult `json:"platforms,omitempty"`
}

// Unpublished lists the platforms the outcome did not publish, sorted
// (nil when it published every platform or is not per platform).
func (o Outcome) Unpublished() []string {
	var out []string
	for p, r := range o.Platforms {
		if r.Status != stages.PlatformPublished {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Published lists the platforms the outcome published, sorted.
func (o Outcome) Published() []string {
	var out []string
	for p, r := range o.Platforms {
		if r.Status == stages.PlatformPublished {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Terminal reports whether the outcome is final.
func (o Outcome) Terminal() bool {
	return o.State == string(types.JobStatusSucceeded) || o.State == string(types.JobStatusFailed) || o.State == StateSkipped
}

// Cell is one shop in one stage: the latest outcome and the whole history
// (daily run first, then each re-run that ran the stage for the shop).
type Cell struct {
	Latest  Outcome   `json:"latest"`
	History []Outcome `json:"history"`
}

// ShopStatus is one shop of the run across stages.
type ShopStatus struct {
	Index  int64            `json:"index"`
	ShopID string           `json:"shop_id"`
	Name   string           `json:"name"`
	Stages map[string]*Cell `json:"stages"`
}

// Status is a run with its re-runs folded in, per shop and stage.
type Status struct {
	Run    string       `json:"run"`
	Stages []string     `json:"stages"`
	Reruns int          `json:"reruns"`
	Shops  []ShopStatus `json:"shops"`
	// Failed and Skipped list, per stage, the indexes whose latest outcome
	// is FAILED or SKIPPED, in compact form ("3,17-19").
	Failed  map[string]string `json:"failed"`
	Skipped map[string]string `json:"skipped"`
	// Counts per stage and latest state.
	Counts map[string]map[string]int `json:"counts"`
	// Unpublished lists, per stage and platform, the indexes whose latest
	// outcome did not publish that platform ("3,17-19"), partly published
	// shops included.
	Unpublished map[string]map[string]string `json:"unpublished,omitempty"`
	// EngineError is set when the engine could not be asked; the status then
	// comes from result records alone.
	EngineError string `json:"engine_error,omitempty"`
}

// FailedIndexes returns the daily-run indexes whose latest outcome in stage
// is FAILED.
func (s *Status) FailedIndexes(stage string) []int64 {
	var out []int64
	for _, sh := range s.Shops {
		if c := sh.Stages[stage]; c != nil && c.Latest.State == string(types.JobStatusFailed) {
			out = append(out, sh.Index)
		}
	}
	return out
}

// StatusInput selects what Status reports.
type StatusInput struct {
	Run string
	// Indexes and ShopIDs narrow the report (both empty: every shop). A
	// narrow report also asks the engine for attempts and log streams.
	Indexes []int64
	ShopIDs []string
	Log     *slog.Logger
}

// BatchAPI is the whole Batch surface the planner uses.
type BatchAPI interface {
	submitter
	lister
	describer
}

// ReadStatus builds the run's status from its records, result records and
// the engine (api may be nil: results only). It is a view of runs.Load.
func ReadStatus(ctx context.Context, st store.Store, api Watcher, in StatusInput) (*Status, error) {
	opts := runs.Options{Indexes: in.Indexes, ShopIDs: in.ShopIDs, Log: in.Log, RequireRecord: true}
	if api != nil {
		opts.Engine = EngineOf(api)
	}
	m, err := runs.Load(ctx, st, in.Run, opts)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", in.Run, err)
	}
	return StatusOf(m), nil
}

// StatusOf is the status view of a run model: per shop and stage, the
// engine's word for each known attempt (SKIPPED for a child that never ran
// because its upstream failed, UNKNOWN where nobody knows the child).
func StatusOf(m *runs.Model) *Status {
	s := &Status{Run: m.Run, Reruns: len(m.Reruns), Failed: map[string]string{}, Skipped: map[string]string{},
		Counts: map[string]map[string]int{}, EngineError: m.EngineError}
	var steps []int
	for si, step := range m.Steps {
		if m.Record == nil || slices.ContainsFunc(m.Record.Groups, func(g Group) bool { return slices.Contains(g.Stages, step.Name) }) {
			s.Stages = append(s.Stages, step.Name)
			steps = append(steps, si)
		}
	}
	for _, sh := range m.Shops {
		ss := ShopStatus{Index: sh.Index, ShopID: sh.ShopID, Name: sh.Name, Stages: map[string]*Cell{}}
		for _, si := range steps {
			story := sh.Stories[si]
			c := &Cell{Latest: Outcome{Run: m.Run, Index: sh.Index, State: StateUnknown}}
			for _, a := range story.History {
				if a.Known() {
					o := outcomeOf(m.Run, a)
					if a.State == runs.Failed || a.State == runs.Cancelled {
						o.Message = strings.Join(a.Lines(story.Stage, sh.ShopID), "; ")
					}
					c.History = append(c.History, o)
				}
			}
			if n := len(c.History); n > 0 {
				c.Latest = c.History[n-1]
			}
			ss.Stages[story.Stage] = c
		}
		s.Shops = append(s.Shops, ss)
	}
	for _, name := range s.Stages {
		counts := map[string]int{}
		var failed, skipped []int64
		for _, sh := range s.Shops {
			st := sh.Stages[name].Latest.State
			counts[st]++
			switch st {
			case string(types.JobStatusFailed):
				failed = append(failed, sh.Index)
			case StateSkipped:
				skipped = append(skipped, sh.Index)
			}
		}
		s.Counts[name] = counts
		unpublished := map[string][]int64{}
		for _, sh := range s.Shops {
			for _, p := range sh.Stages[name].Latest.Unpublished() {
				unpublished[p] = append(unpublished[p], sh.Index)
			}
		}
		for p, idx := range unpublished {
			if s.Unpublished == nil {
				s.Unpublished = map[string]map[string]string{}
			}
			if s.Unpublished[name] == nil {
				s.Unpublished[name] = map[string]string{}
			}
			s.Unpublished[name][p] = engine.FormatIndexes(idx)
		}
		if len(failed) > 0 {
			s.Failed[name] = engine.FormatIndexes(failed)
		}
		if len(skipped) > 0 {
			s.Skipped[name] = engine.FormatIndexes(skipped)
		}
	}
	return s
}

// outcomeOf is one known attempt in status's words.
func outcomeOf(run string, a runs.Attempt) Outcome {
	o := Outcome{Run: run, Rerun: a.Rerun, Index: a.Index, JobID: a.JobID}
	if e := a.Engine; e != nil {
		o.State, o.Reason, o.ExitCode, o.Attempts = e.Status, e.Reason, e.ExitCode, e.Attempts
		o.Started, o.Stopped, o.LogStream = e.Started, e.Stopped, e.LogStream
		if a.State == runs.Skipped {
			o.State = StateSkipped
		}
	}
	if res := a.Result; res != nil {
		if o.State == "" {
			o.State = string(types.JobStatusFailed)
			if res.Status == stages.StatusSucceeded {
				o.State = string(types.JobStatusSucceeded)
			}
		}
		o.Attempts = max(o.Attempts, res.Attempt)
		o.Error = res.Error
		o.Platforms = res.Platforms
		o.DurationMS = res.DurationMS
		if o.Started.IsZero() {
			o.Started, o.Stopped = res.StartedAt, res.FinishedAt
		}
	}
	return o
}

// EngineOf adapts the Batch API to what runs.Load asks: DescribeJobs for a
// single job or up to 1,000 chosen children, ListJobs (every status) for a
// whole array.
func EngineOf(api Watcher) runs.Engine { return batchEngine{api} }

type batchEngine struct{ api Watcher }

func (b batchEngine) Children(ctx context.Context, j Job, indexes []int64) ([]runs.Child, error) {
	var ids []string
	var idx []int64
	switch {
	case !j.Array():
		ids, idx = []string{j.JobID}, []int64{j.Offset}
	case indexes != nil && len(indexes) <= 1000:
		for _, li := range indexes {
			if j.Contains(li) {
				ids, idx = append(ids, j.ChildID(li)), append(idx, li)
			}
		}
	default:
		var out []runs.Child
		err := listChildren(ctx, b.api, j, nil, func(li int64, s types.JobSummary) {
			if indexes != nil && !slices.Contains(indexes, li) {
				return
			}
			c := runs.Child{Index: li, Status: string(s.Status), Reason: aws.ToString(s.StatusReason), JobID: aws.ToString(s.JobId),
				Started: msTime(s.StartedAt), Stopped: msTime(s.StoppedAt)}
			if s.Container != nil {
				c.ExitCode = s.Container.ExitCode
			}
			out = append(out, c)
		})
		return out, err
	}
	byID := map[string]int64{}
	for i, id := range ids {
		byID[id] = idx[i]
	}
	var out []runs.Child
	for start := 0; start < len(ids); start += 100 {
		res, err := b.api.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: ids[start:min(start+100, len(ids))]})
		if err != nil {
			return nil, fmt.Errorf("describe jobs of %s: %w", j.Name, err)
		}
		for _, d := range res.Jobs {
			li, ok := byID[aws.ToString(d.JobId)]
			if !ok {
				continue
			}
			c := runs.Child{Index: li, Status: string(d.Status), Reason: aws.ToString(d.StatusReason), JobID: aws.ToString(d.JobId),
				Started: msTime(d.StartedAt), Stopped: msTime(d.StoppedAt), Attempts: len(d.Attempts)}
			if d.Container != nil {
				c.ExitCode = d.Container.ExitCode
				c.LogStream = aws.ToString(d.Container.LogStreamName)
			}
			if n := len(d.Attempts); n > 0 && d.Attempts[n-1].Container != nil {
				c.ExitCode = cmp.Or(d.Attempts[n-1].Container.ExitCode, c.ExitCode)
				if s := aws.ToString(d.Attempts[n-1].Container.LogStreamName); s != "" {
					c.LogStream = s
				}
				if r := aws.ToString(d.Attempts[n-1].Container.Reason); r != "" && c.Reason == "" {
					c.Reason = r
				}
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func skipped(o Outcome) Outcome {
	if o.State == string(types.JobStatusFailed) && runs.FromBatch(o.State, o.Reason) == runs.Skipped {
		o.State = StateSkipped
	}
	return o
}

func msTime(ms *int64) time.Time {
	if ms == nil || *ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(*ms).UTC()
}

// listChildren lists the children of array job j in the given statuses
// (every status when nil), paging, and calls fn with each child's manifest
// index.
func listChildren(ctx context.Context, api lister, j Job, statuses []types.JobStatus, fn func(int64, types.JobSummary)) error {
	if statuses == nil {
		statuses = batchStatuses
	}
	for _, status := range statuses {
		p := batch.NewListJobsPaginator(api, &batch.ListJobsInput{ArrayJobId: aws.String(j.JobID), JobStatus: status, MaxResults: aws.Int32(1000)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list %s children of %s: %w", status, j.Name, err)
			}
			for _, s := range page.JobSummaryList {
				if s.ArrayProperties == nil || s.ArrayProperties.Index == nil {
					continue
				}
				fn(j.Offset+int64(aws.ToInt32(s.ArrayProperties.Index)), s)
			}
		}
	}
	return nil
}
