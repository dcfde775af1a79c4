package planner

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"golang.org/x/sync/errgroup"

	"github.com/feedbatch/feedbatch/engine"
	"github.com/feedbatch/feedbatch/manifest"
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
const ReasonDependentFailed = "Dependent Job failed"

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
	Index    int64     `json:"index"`
	State    string    `json:"state"`
	Attempts int       `json:"attempts,omitempty"`
	ExitCode *int32    `json:"exit_code,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Stopped  time.Time `json:"stopped,omitzero"`
	// DurationMS is the child's own duration (result record), else the
	// attempt's.
	DurationMS int64  `json:"duration_ms,omitempty"`
	JobID      string `json:"job_id,omitempty"`
	LogStream  string `json:"log_stream,omitempty"`
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
// the engine (api may be nil: results only).
func ReadStatus(ctx context.Context, st store.Store, api Watcher, in StatusInput) (*Status, error) {
	log := in.Log
	if log == nil {
		log = slog.Default()
	}
	origin, err := ReadRecord(ctx, st, RecordKey(in.Run))
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", in.Run, err)
	}
	reruns, err := Reruns(ctx, st, in.Run)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", in.Run, err)
	}
	rows, _, err := manifest.ReadAll(ctx, st, origin.Manifest)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", in.Run, err)
	}
	want, err := selectIndexes(rows, in.Indexes, in.ShopIDs)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", in.Run, err)
	}
	narrow := len(in.Indexes) > 0 || len(in.ShopIDs) > 0

	s := &Status{Run: in.Run, Reruns: len(reruns), Failed: map[string]string{}, Skipped: map[string]string{}, Counts: map[string]map[string]int{}}
	for _, g := range origin.Groups {
		for _, name := range g.Stages {
			if !slices.Contains(s.Stages, name) {
				s.Stages = append(s.Stages, name)
			}
		}
	}
	shops := make(map[int64]*ShopStatus, len(want))
	for _, i := range want {
		r := rows[i]
		shops[i] = &ShopStatus{Index: i, ShopID: r.ShopID, Name: r.Name, Stages: map[string]*Cell{}}
	}
	for _, rec := range append([]*Record{origin}, reruns...) {
		toOrigin, err := originMap(rec)
		if err != nil {
			return nil, err
		}
		// local indexes of this record that the report wants
		var local []int64
		if narrow {
			for li, oi := range toOrigin {
				if shops[oi] != nil {
					local = append(local, li)
				}
			}
			slices.Sort(local)
		}
		outs, eerr := recordOutcomes(ctx, st, api, rec, local, narrow)
		if eerr != nil {
			log.Warn("engine not available; status from result records only", "err", eerr)
			s.EngineError = eerr.Error()
		}
		for k, o := range outs {
			sh := shops[toOrigin[k.index]]
			if sh == nil {
				continue
			}
			c := sh.Stages[k.stage]
			if c == nil {
				c = &Cell{}
				sh.Stages[k.stage] = c
			}
			c.History = append(c.History, o)
			c.Latest = o
		}
	}
	for _, i := range want {
		sh := shops[i]
		for _, name := range s.Stages {
			if sh.Stages[name] == nil {
				sh.Stages[name] = &Cell{Latest: Outcome{Run: in.Run, Index: i, State: StateUnknown}}
			}
		}
		s.Shops = append(s.Shops, *sh)
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
		if len(failed) > 0 {
			s.Failed[name] = engine.FormatIndexes(failed)
		}
		if len(skipped) > 0 {
			s.Skipped[name] = engine.FormatIndexes(skipped)
		}
	}
	return s, nil
}

// selectIndexes turns an index/shop selection into sorted daily indexes
// (everything when both are empty).
func selectIndexes(rows []manifest.Row, indexes []int64, shopIDs []string) ([]int64, error) {
	if len(indexes) == 0 && len(shopIDs) == 0 {
		out := make([]int64, len(rows))
		for i := range out {
			out[i] = int64(i)
		}
		return out, nil
	}
	var out []int64
	for _, i := range indexes {
		if i < 0 || i >= int64(len(rows)) {
			return nil, fmt.Errorf("index %d: %w (the run has %d shops)", i, manifest.ErrIndexOutOfRange, len(rows))
		}
		out = append(out, i)
	}
	if len(shopIDs) > 0 {
		byID := make(map[string]int64, len(rows))
		for _, r := range rows {
			byID[r.ShopID] = r.Index
		}
		for _, id := range shopIDs {
			i, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("shop %q: %w in the run's manifest", id, store.ErrNotFound)
			}
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// originMap maps the record's manifest indexes to the daily run's.
func originMap(rec *Record) (map[int64]int64, error) {
	m := map[int64]int64{}
	for _, g := range rec.Groups {
		if rec.Rerun == 0 || g.OriginIndexes == "" {
			for i := g.Offset; i < g.Offset+g.Size; i++ {
				m[i] = i
			}
			continue
		}
		idx, err := engine.ParseIndexes(g.OriginIndexes)
		if err != nil {
			return nil, fmt.Errorf("%s: group at %d: %w", rec.Key(), g.Offset, err)
		}
		for j, oi := range idx {
			m[g.Offset+int64(j)] = oi
		}
	}
	return m, nil
}

type outcomeKey struct {
	stage string
	index int64
}

// recordOutcomes reads the outcomes of one record: the engine's view
// overlaid with result records. With only, just those local indexes.
func recordOutcomes(ctx context.Context, st store.Store, api Watcher, rec *Record, local []int64, only bool) (map[outcomeKey]Outcome, error) {
	outs := map[outcomeKey]Outcome{}
	var engineErr error
	if api != nil {
		engineErr = engineOutcomes(ctx, api, rec, local, only, outs)
	}
	for _, j := range rec.Jobs {
		if err := resultOutcomes(ctx, st, rec, j, local, only, outs); err != nil {
			return nil, err
		}
	}
	for k, o := range outs {
		o.Run, o.Rerun = rec.RunID, rec.Rerun
		outs[k] = o
	}
	return outs, engineErr
}

func engineOutcomes(ctx context.Context, api Watcher, rec *Record, local []int64, only bool, outs map[outcomeKey]Outcome) error {
	for _, j := range rec.Jobs {
		if j.JobID == "" {
			continue
		}
		var ids []string
		var idx []int64
		switch {
		case !j.Array():
			if only && !slices.Contains(local, j.Offset) {
				continue
			}
			ids, idx = []string{j.JobID}, []int64{j.Offset}
		case only && len(local) <= 1000:
			for _, li := range local {
				if j.Contains(li) {
					ids, idx = append(ids, j.ChildID(li)), append(idx, li)
				}
			}
		default:
			if err := listChildren(ctx, api, j, nil, func(li int64, s types.JobSummary) {
				o := Outcome{Index: li, State: string(s.Status), Reason: aws.ToString(s.StatusReason), JobID: aws.ToString(s.JobId),
					Started: msTime(s.StartedAt), Stopped: msTime(s.StoppedAt)}
				if s.Container != nil {
					o.ExitCode = s.Container.ExitCode
				}
				outs[outcomeKey{j.Stage, li}] = skipped(o)
			}); err != nil {
				return err
			}
			continue
		}
		byID := map[string]int64{}
		for i, id := range ids {
			byID[id] = idx[i]
		}
		for start := 0; start < len(ids); start += 100 {
			out, err := api.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: ids[start:min(start+100, len(ids))]})
			if err != nil {
				return fmt.Errorf("describe jobs of %s: %w", j.Name, err)
			}
			for _, d := range out.Jobs {
				li, ok := byID[aws.ToString(d.JobId)]
				if !ok {
					continue
				}
				o := Outcome{Index: li, State: string(d.Status), Reason: aws.ToString(d.StatusReason), JobID: aws.ToString(d.JobId),
					Started: msTime(d.StartedAt), Stopped: msTime(d.StoppedAt), Attempts: len(d.Attempts)}
				if d.Container != nil {
					o.ExitCode = d.Container.ExitCode
					o.LogStream = aws.ToString(d.Container.LogStreamName)
				}
				if n := len(d.Attempts); n > 0 && d.Attempts[n-1].Container != nil {
					o.ExitCode = cmp.Or(d.Attempts[n-1].Container.ExitCode, o.ExitCode)
					if s := aws.ToString(d.Attempts[n-1].Container.LogStreamName); s != "" {
						o.LogStream = s
					}
					if r := aws.ToString(d.Attempts[n-1].Container.Reason); r != "" && o.Reason == "" {
						o.Reason = r
					}
				}
				outs[outcomeKey{j.Stage, li}] = skipped(o)
			}
		}
	}
	return nil
}

func skipped(o Outcome) Outcome {
	if o.State == string(types.JobStatusFailed) && strings.HasPrefix(o.Reason, ReasonDependentFailed) {
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

// resultOutcomes overlays the result records of job j.
func resultOutcomes(ctx context.Context, st store.Store, rec *Record, j Job, local []int64, only bool, outs map[outcomeKey]Outcome) error {
	apply := func(res stages.Result) {
		k := outcomeKey{j.Stage, res.Index}
		o, known := outs[k]
		o.Index = res.Index
		if !known || o.State == "" {
			o.State = string(types.JobStatusFailed)
			if res.Status == stages.StatusSucceeded {
				o.State = string(types.JobStatusSucceeded)
			}
		}
		o.Attempts = max(o.Attempts, res.Attempt)
		o.Error = res.Error
		o.DurationMS = res.DurationMS
		if o.Started.IsZero() {
			o.Started, o.Stopped = res.StartedAt, res.FinishedAt
		}
		if o.JobID == "" {
			o.JobID = res.JobID
		}
		outs[k] = o
	}
	var keys []string
	if only {
		for _, li := range local {
			if j.Contains(li) {
				keys = append(keys, stages.ResultKey(rec.Manifest, j.Stage, li))
			}
		}
	} else {
		prefix := path.Dir(stages.ResultKey(rec.Manifest, j.Stage, 0)) + "/"
		err := st.List(ctx, prefix, func(info store.Info) error {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(info.Key, prefix), ".json"), 10, 64)
			if err == nil && j.Contains(n) {
				keys = append(keys, info.Key)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list results of %s: %w", j.Name, err)
		}
	}
	// Result records are small and many (one per shop and stage): read them
	// concurrently, which is what makes status fast over S3.
	results := make([]*stages.Result, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(resultReaders)
	for i, key := range keys {
		g.Go(func() error {
			res, err := readResult(gctx, st, key)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			results[i] = &res
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, res := range results {
		if res != nil {
			apply(*res)
		}
	}
	return nil
}

// resultReaders is how many result records are read at once.
const resultReaders = 32

func readResult(ctx context.Context, st store.Store, key string) (stages.Result, error) {
	var res stages.Result
	rc, err := st.Get(ctx, key)
	if err != nil {
		return res, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return res, fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("decode %s: %w", key, err)
	}
	return res, nil
}
