// Package finalize closes a run: when every stage job of the run (or of one
// of its re-runs) is terminal, it writes the report and
// runs/<run>/summary.json and sends one notification. Events are delivered
// at least once and several stage jobs end near each other, so finalize runs
// many times for one run; a conditional write (runs/<run>/notified.json,
// created only if absent) makes exactly one of them notify. A deadline
// check (Late) warns once (runs/<run>/late.json) when the run is not
// finished by the hour the platforms fetch.
package finalize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/notify"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/store"
)

// ErrNotFinished is returned by Run with IfFinished when a stage job is not
// terminal yet. Errors will be checked using errors.Is.
var ErrNotFinished = errors.New("finalize: not finished")

// ErrNotify wraps a failed notification (its claim was given back, so
// another try can send it).
var ErrNotify = errors.New("finalize: notification not sent")


// NotifiedKey is the claim of the notification that run (rerun 0) or its
// re-run k finished.
func NotifiedKey(run string, rerun int) string {
	if rerun > 0 {
		return runs.RerunDir(run, rerun) + "/notified.json"
	}
	return planner.RunDir(run) + "/notified.json"
}

// LateKey is the claim of run's deadline warning.
func LateKey(run string) string { return planner.RunDir(run) + "/late.json" }

// Checker reports whether every stage job of rec is terminal.
type Checker func(ctx context.Context, rec *planner.Record) (bool, error)

// Summarizer builds run's summary, re-runs folded in.
type Summarizer func(ctx context.Context, run string) (*Summary, error)

// Finalizer closes runs. Store, Finished, WriteReport and Summarize are
// required.
type Finalizer struct {
	Store    store.Store
	Finished Checker
	// WriteReport writes run's report and returns its store key.
	WriteReport func(ctx context.Context, run string) (string, error)
	Summarize   Summarizer
	// Notify is nil when nobody is to be told; then nothing is claimed.
	Notify notify.Sender
	// ReportURL turns the report's key into the link the message carries
	// (default: none).
	ReportURL func(key string) string
	Now       func() time.Time
	Log       *slog.Logger
}

// Input says what to finalize.
type Input struct {
	Run string
	// Rerun is k to finalize re-run k, 0 for the daily run.
	Rerun int
	// IfFinished makes Run return ErrNotFinished, writing nothing, when a
	// stage job is not terminal; without it the report and summary are
	// written as they stand and nobody is notified.
	IfFinished bool
}

// Outcome is what Run or Late did.
type Outcome struct {
	Finished bool
	// Notified: this call sent the notification.
	Notified bool
	// AlreadyNotified: another call had claimed the notification.
	AlreadyNotified bool
	ReportKey       string
	Summary         *Summary
}

func (f *Finalizer) defaults() (func() time.Time, *slog.Logger) {
	now, log := f.Now, f.Log
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return now, log
}

// Run finalizes in.Run (or its re-run in.Rerun).
func (f *Finalizer) Run(ctx context.Context, in Input) (Outcome, error) {
	now, log := f.defaults()
	log = log.With("run", in.Run, "rerun", in.Rerun)
	var out Outcome
	key := planner.RecordKey(in.Run)
	if in.Rerun > 0 {
		key = planner.RerunRecordKey(in.Run, in.Rerun)
	}
	rec, err := planner.ReadRecord(ctx, f.Store, key)
	if err != nil {
		return out, fmt.Errorf("finalize %s: %w", in.Run, err)
	}
	if out.Finished, err = f.Finished(ctx, rec); err != nil {
		return out, fmt.Errorf("finalize %s: %w", in.Run, err)
	}
	if !out.Finished && in.IfFinished {
		return out, fmt.Errorf("%s: %w", what(in.Run, in.Rerun), ErrNotFinished)
	}
	claim := NotifiedKey(in.Run, in.Rerun)
	sum, err := f.write(ctx, in.Run, in.Rerun, out.Finished, now)
	if err != nil {
		return out, err
	}
	out.ReportKey, out.Summary = sum.Report, sum
	if !out.Finished || f.Notify == nil {
		return out, nil
	}
	won, err := f.claim(ctx, claim, now)
	if err != nil || !won {
		out.AlreadyNotified = !won && err == nil
		if out.AlreadyNotified {
			log.Info("already notified", "claim", claim)
		}
		return out, err
	}
	if err := f.send(ctx, claim, f.message(sum, false), log); err != nil {
		return out, err
	}
	out.Notified = true
	log.Info("notified", "failed_shops", sum.FailedShops)
	return out, nil
}

// Late sends the deadline warning for run unless the daily run and every
// re-run are finished. A run that was never planned is late too.
func (f *Finalizer) Late(ctx context.Context, run string) (Outcome, error) {
	now, log := f.defaults()
	log = log.With("run", run)
	var out Outcome
	rec, err := planner.ReadRecord(ctx, f.Store, planner.RecordKey(run))
	planned := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return out, fmt.Errorf("finalize %s: %w", run, err)
	}
	if planned {
		recs := []*planner.Record{rec}
		reruns, err := planner.Reruns(ctx, f.Store, run)
		if err != nil {
			return out, fmt.Errorf("finalize %s: %w", run, err)
		}
		out.Finished = true
		for _, r := range append(recs, reruns...) {
			done, err := f.Finished(ctx, r)
			if err != nil {
				return out, fmt.Errorf("finalize %s: %w", run, err)
			}
			out.Finished = out.Finished && done
		}
		if out.Finished {
			log.Info("finished before the deadline")
			return out, nil
		}
	}
	if f.Notify == nil {
		return out, nil
	}
	claim := LateKey(run)
	if _, err := f.Store.Stat(ctx, claim); err == nil {
		out.AlreadyNotified = true
		return out, nil
	}
	msg := notify.Message{Run: run, Late: true, Note: "the run was never planned (no " + planner.RecordKey(run) + ")"}
	if planned {
		sum, err := f.write(ctx, run, 0, false, now)
		if err != nil {
			return out, err
		}
		out.ReportKey, out.Summary = sum.Report, sum
		msg = f.message(sum, true)
		msg.Note = "not every stage job has ended; platforms fetching now get the previous feeds of unfinished shops"
	}
	won, err := f.claim(ctx, claim, now)
	if err != nil || !won {
		out.AlreadyNotified = !won && err == nil
		return out, err
	}
	if err := f.send(ctx, claim, msg, log); err != nil {
		return out, err
	}
	out.Notified = true
	log.Warn("late: notified")
	return out, nil
}

// write writes the report and summary.json.
func (f *Finalizer) write(ctx context.Context, run string, rerun int, finished bool, now func() time.Time) (*Summary, error) {
	key, err := f.WriteReport(ctx, run)
	if err != nil {
		return nil, fmt.Errorf("finalize %s: report: %w", run, err)
	}
	sum, err := f.Summarize(ctx, run)
	if err != nil {
		return nil, fmt.Errorf("finalize %s: summary: %w", run, err)
	}
	sum.Run, sum.Rerun, sum.Finished, sum.Report = run, rerun, finished, key
	sum.GeneratedAt = now().UTC()
	if sum.FailedShops > 0 && sum.RerunCommand == "" {
		sum.RerunCommand = RerunCommand(run)
	}
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("finalize %s: %w", run, err)
	}
	po := &store.PutOptions{ContentType: "application/json", CacheControl: "no-cache"}
	if err := f.Store.Put(ctx, runs.SummaryKey(run), bytes.NewReader(append(b, '\n')), po); err != nil {
		return nil, fmt.Errorf("finalize %s: %w", run, err)
	}
	return sum, nil
}

// claim creates key if absent; won is false when it already existed.
func (f *Finalizer) claim(ctx context.Context, key string, now func() time.Time) (won bool, err error) {
	body := fmt.Sprintf("{\"claimed_at\": %q}\n", now().UTC().Format(time.RFC3339Nano))
	err = f.Store.Put(ctx, key, bytes.NewReader([]byte(body)), &store.PutOptions{IfAbsent: true, ContentType: "application/json"})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrExists):
		return false, nil
	}
	return false, fmt.Errorf("finalize: claim %s: %w", key, err)
}

// send delivers m; when it fails the claim is given back, so that the next
// finalize (a duplicate event, a retry of the job) tries again.
func (f *Finalizer) send(ctx context.Context, claim string, m notify.Message, log *slog.Logger) error {
	err := f.Notify.Send(ctx, m)
	if err == nil {
		return nil
	}
	// The context may be what failed; the release must not depend on it.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if derr := f.Store.Delete(rctx, claim); derr != nil {
		log.Error("notification failed and its claim could not be released: delete it to notify again", "claim", claim, "err", derr)
	}
	return fmt.Errorf("finalize %s: %w: %w", m.Run, ErrNotify, err)
}

func (f *Finalizer) message(sum *Summary, late bool) notify.Message {
	m := notify.Message{
		Run: sum.Run, Rerun: sum.Rerun, Late: late, Shops: int64(sum.Shops), FailedShops: int64(sum.FailedShops),
		FeedsPublished: sum.feedsPublished(), Duration: time.Duration(sum.DurationS * float64(time.Second)),
		RerunCommand: sum.RerunCommand,
	}
	for _, s := range sum.Stages {
		m.Stages = append(m.Stages, notify.Stage{Name: s.Stage, Succeeded: int64(s.Succeeded), Failed: int64(s.Failed), Skipped: int64(s.Skipped), FailedIndexes: s.FailedIndexes})
	}
	for _, r := range sum.Reasons {
		m.Reasons = append(m.Reasons, notify.Reason{Stage: r.Stage, Message: r.Reason, Shops: int64(r.Shops)})
	}
	if f.ReportURL != nil && sum.Report != "" {
		m.ReportURL = f.ReportURL(sum.Report)
	}
	return m
}

func what(run string, rerun int) string {
	if rerun > 0 {
		return fmt.Sprintf("re-run %d of %s", rerun, run)
	}
	return "run " + run
}

// jobDescriber is the part of the Batch client EngineChecker uses.
type jobDescriber interface {
	DescribeJobs(ctx context.Context, in *batch.DescribeJobsInput, opts ...func(*batch.Options)) (*batch.DescribeJobsOutput, error)
}

// EngineChecker asks the engine (AWS Batch or the local engine) whether
// every job of the record is SUCCEEDED or FAILED (an array parent is, once
// all its children are). A job the engine does not know is not finished.
func EngineChecker(api jobDescriber) Checker {
	return func(ctx context.Context, rec *planner.Record) (bool, error) {
		var ids []string
		for _, j := range rec.Jobs {
			if j.JobID == "" {
				return false, nil // never submitted (yet)
			}
			ids = append(ids, j.JobID)
		}
		done := 0
		for start := 0; start < len(ids); start += 100 {
			out, err := api.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: ids[start:min(start+100, len(ids))]})
			if err != nil {
				return false, fmt.Errorf("describe jobs: %w", err)
			}
			for _, d := range out.Jobs {
				if d.Status == types.JobStatusSucceeded || d.Status == types.JobStatusFailed {
					done++
				}
			}
		}
		return done == len(ids), nil
	}
}
