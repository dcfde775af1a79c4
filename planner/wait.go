package planner

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/runs"
)

// StageProgress is one stage's progress over all its jobs.
type StageProgress struct {
	Stage string
	Total int64
	// Counts by Batch status (children for arrays, the job for single jobs).
	Succeeded, Failed, Running, Waiting int64
	// Skipped counts the FAILED children that never ran because a stage
	// they wait for failed ("Dependent Job failed"); Failed then counts
	// only the others. Split is true when the count is exact (the engine
	// listed the failed children, or the jobs are single), false when
	// Failed holds both.
	Skipped int64
	Split   bool
	// Done is true when every job of the stage is terminal.
	Done bool
	// Unknown counts the stage's jobs the engine did not describe.
	Unknown int
}

// Finished is the number of terminal children.
func (p StageProgress) Finished() int64 { return p.Succeeded + p.Failed + p.Skipped }

// failedSplits remembers, per array job, how its FAILED children split
// into skipped and failed at a FAILED count, so a poll lists them again
// only when the count changed.
type failedSplits map[string]failedSplit

type failedSplit struct{ failed, skipped int64 }

// split returns how many of array job j's n FAILED children were skipped,
// and false if it could not tell.
func (fs failedSplits) split(ctx context.Context, api describer, j Job, n int64) (int64, bool) {
	l, ok := api.(lister)
	if !ok {
		return 0, false
	}
	if c, ok := fs[j.JobID]; ok && c.failed == n {
		return c.skipped, true
	}
	var skipped, seen int64
	err := listChildren(ctx, l, j, []types.JobStatus{types.JobStatusFailed}, func(_ int64, s types.JobSummary) {
		seen++
		if runs.FromBatch(runs.BatchFailed, aws.ToString(s.StatusReason)) == runs.Skipped {
			skipped++
		}
	})
	if err != nil || seen != n {
		return 0, false // a listing behind the summary: next poll
	}
	fs[j.JobID] = failedSplit{n, skipped}
	return skipped, true
}

// progress reads every stage's progress from the engine (DescribeJobs on
// the parents, at most 100 ids per call; arrays report statusSummary). With
// an api that can also list jobs, each array's failed children are listed
// (when their number changes) to tell skipped from failed.
func progress(ctx context.Context, api describer, rec *Record, fs failedSplits) ([]StageProgress, error) {
	var ids []string
	for _, j := range rec.Jobs {
		if j.JobID != "" {
			ids = append(ids, j.JobID)
		}
	}
	details := map[string]types.JobDetail{}
	for start := 0; start < len(ids); start += 100 {
		out, err := api.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: ids[start:min(start+100, len(ids))]})
		if err != nil {
			return nil, fmt.Errorf("describe jobs: %w", err)
		}
		for _, d := range out.Jobs {
			details[aws.ToString(d.JobId)] = d
		}
	}
	var out []StageProgress
	at := map[string]int{}
	for _, j := range rec.Jobs {
		i, ok := at[j.Stage]
		if !ok {
			i = len(out)
			at[j.Stage] = i
			out = append(out, StageProgress{Stage: j.Stage, Done: true, Split: true})
		}
		p := &out[i]
		p.Total += j.Size
		d, ok := details[j.JobID]
		if !ok {
			p.Waiting += j.Size
			p.Done = false
			p.Unknown++
			continue
		}
		if d.Status != types.JobStatusSucceeded && d.Status != types.JobStatusFailed {
			p.Done = false
		}
		if j.Array() && d.ArrayProperties != nil && d.ArrayProperties.StatusSummary != nil {
			var seen int64
			for status, n := range d.ArrayProperties.StatusSummary {
				seen += int64(n)
				switch types.JobStatus(status) {
				case types.JobStatusSucceeded:
					p.Succeeded += int64(n)
				case types.JobStatusFailed:
					skipped, ok := fs.split(ctx, api, j, int64(n))
					p.Split = p.Split && ok
					p.Failed += int64(n) - skipped
					p.Skipped += skipped
				case types.JobStatusRunning, types.JobStatusStarting:
					p.Running += int64(n)
				default:
					p.Waiting += int64(n)
				}
			}
			p.Waiting += max(0, j.Size-seen)
			continue
		}
		var n = j.Size
		switch d.Status {
		case types.JobStatusSucceeded:
			p.Succeeded += n
		case types.JobStatusFailed:
			if runs.FromBatch(string(d.Status), aws.ToString(d.StatusReason)) == runs.Skipped {
				p.Skipped += n
			} else {
				p.Failed += n
			}
		case types.JobStatusRunning, types.JobStatusStarting:
			p.Running += n
		default:
			p.Waiting += n
		}
	}
	return out, nil
}

// maxUnknownPolls is how many polls in a row may miss a job before Wait
// gives up on it (an engine that lost its job table, an expired AWS job).
const maxUnknownPolls = 30

// Wait polls the progress every interval until every stage is done, calling
// report after each poll. It returns the last progress.
func Wait(ctx context.Context, api describer, rec *Record, interval time.Duration, report func([]StageProgress)) ([]StageProgress, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	unknownPolls := 0
	fs := failedSplits{}
	for {
		p, err := progress(ctx, api, rec, fs)
		if err != nil {
			return nil, err
		}
		if report != nil {
			report(p)
		}
		done, unknown := true, 0
		for _, s := range p {
			done = done && s.Done
			unknown += s.Unknown
		}
		if done {
			return p, nil
		}
		if unknown > 0 {
			unknownPolls++
			if unknownPolls >= maxUnknownPolls {
				return p, fmt.Errorf("wait for %s: %d job(s) unknown to the engine", rec.Key(), unknown)
			}
		} else {
			unknownPolls = 0
		}
		select {
		case <-ctx.Done():
			return p, ctx.Err()
		case <-t.C:
		}
	}
}

// StageSummary is how a stage ended.
type StageSummary struct {
	Stage     string `json:"stage"`
	Total     int64  `json:"total"`
	Succeeded int64  `json:"succeeded"`
	// Failed ran and failed; Skipped failed without running because a stage
	// it waits for failed.
	Failed         int64   `json:"failed"`
	Skipped        int64   `json:"skipped"`
	FailedIndexes  []int64 `json:"failed_indexes,omitempty"`
	SkippedIndexes []int64 `json:"skipped_indexes,omitempty"`
}

// Summarize tells, per stage, how the record's jobs ended: failed children
// are listed with ListJobs (arrayJobId, FAILED) and split by statusReason
// into failed and skipped. Indexes are the record's manifest indexes.
func Summarize(ctx context.Context, api Watcher, rec *Record, final []StageProgress) ([]StageSummary, error) {
	var out []StageSummary
	at := map[string]int{}
	for _, p := range final {
		at[p.Stage] = len(out)
		out = append(out, StageSummary{Stage: p.Stage, Total: p.Total, Succeeded: p.Succeeded})
	}
	for _, j := range rec.Jobs {
		i, ok := at[j.Stage]
		if !ok || j.JobID == "" {
			continue
		}
		s := &out[i]
		add := func(idx int64, reason string) {
			if skipped(Outcome{State: string(types.JobStatusFailed), Reason: reason}).State == StateSkipped {
				s.Skipped++
				s.SkippedIndexes = append(s.SkippedIndexes, idx)
			} else {
				s.Failed++
				s.FailedIndexes = append(s.FailedIndexes, idx)
			}
		}
		if !j.Array() {
			d, err := api.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{j.JobID}})
			if err != nil {
				return nil, fmt.Errorf("describe %s: %w", j.Name, err)
			}
			for _, jd := range d.Jobs {
				if jd.Status == types.JobStatusFailed {
					add(j.Offset, aws.ToString(jd.StatusReason))
				}
			}
			continue
		}
		if err := listChildren(ctx, api, j, []types.JobStatus{types.JobStatusFailed}, func(idx int64, js types.JobSummary) {
			add(idx, aws.ToString(js.StatusReason))
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}
