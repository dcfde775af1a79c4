package planner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store"
)

// PlanInput is one daily plan.
type PlanInput struct {
	// RunID names the run (DefaultRunID when empty).
	RunID string
	// Rows are the shops, row i with Index i (registry.Rows).
	Rows []manifest.Row
	// Steps is the stage graph, in submission order.
	Steps []Step
	// Target says where jobs go.
	Target Target
	// Engine is recorded in run.json ("local" or "aws").
	Engine string
	// Version is the feedbatch version, recorded in run.json and the manifest.
	Version string
	// Config is recorded in run.json.
	Config map[string]string
	// Replan plans a run id again even when it was already submitted; the
	// old record is kept under runs/<run>/history/.
	Replan bool
	// Lease is how long a "planning" record of another planner is respected
	// (DefaultLease when 0).
	Lease time.Duration
	// WaitBusy makes Plan wait while another planner holds a live lease on
	// the run (then fail with ErrRunExists if it finished, or resume if it
	// died) instead of failing with ErrRunBusy at once.
	WaitBusy bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Log receives progress (slog.Default when nil).
	Log *slog.Logger
}

func (in *PlanInput) defaults() {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Log == nil {
		in.Log = slog.Default()
	}
	if in.Lease == 0 {
		in.Lease = DefaultLease
	}
	if in.RunID == "" {
		in.RunID = DefaultRunID(in.Now())
	}
}

// Plan claims the run id, writes the manifest and submits one job per stage
// (per shard) in graph order; see the package doc for how it submits
// exactly once. It returns the final run.json record.
func Plan(ctx context.Context, st store.Store, api Submitter, in PlanInput) (*Record, error) {
	in.defaults()
	log := in.Log.With("run", in.RunID)
	if err := CheckRunID(in.RunID); err != nil {
		return nil, err
	}
	if len(in.Rows) == 0 {
		return nil, fmt.Errorf("plan %s: no shops", in.RunID)
	}
	now := in.Now().UTC()
	all := make([]string, 0, len(in.Steps))
	for _, s := range in.Steps {
		all = append(all, s.Name)
	}
	rec := &Record{
		RunID:     in.RunID,
		State:     StatePlanning,
		Engine:    in.Engine,
		Queue:     in.Target.Queue,
		Root:      in.Target.Root,
		Manifest:  manifest.Key(in.RunID),
		Shops:     int64(len(in.Rows)),
		Version:   in.Version,
		CreatedAt: now,
		UpdatedAt: now,
		Config:    maps.Clone(in.Config),
		Groups:    []Group{{Offset: 0, Size: int64(len(in.Rows)), Stages: all}},
	}
	jobs, err := Layout(in.Steps, rec.Groups, "fb-"+in.RunID)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", in.RunID, err)
	}
	rec.Jobs = jobs

	resume := false
	err = putRecord(ctx, st, rec, true)
	switch {
	case err == nil:
		log.Info("claimed run", "key", rec.Key())
	case errors.Is(err, store.ErrExists):
		old, rerr := ReadRecord(ctx, st, rec.Key())
		if rerr != nil {
			return nil, fmt.Errorf("plan %s: %w", in.RunID, rerr)
		}
		for in.WaitBusy && !in.Replan && old.State == StatePlanning && in.Now().Sub(old.UpdatedAt) < in.Lease {
			d := old.UpdatedAt.Add(in.Lease).Sub(in.Now())
			log.Info("another planner holds the run; waiting for it", "updated_at", old.UpdatedAt, "wait", d)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(d):
			}
			if old, rerr = ReadRecord(ctx, st, rec.Key()); rerr != nil {
				return nil, fmt.Errorf("plan %s: %w", in.RunID, rerr)
			}
			now = in.Now().UTC()
		}
		switch {
		case in.Replan:
			if err := archive(ctx, st, old, now); err != nil {
				return nil, err
			}
			if err := putRecord(ctx, st, rec, false); err != nil {
				return nil, err
			}
			log.Warn("planning again over an earlier plan", "earlier_created_at", old.CreatedAt)
		case old.State == StateSubmitted:
			return nil, fmt.Errorf("%w: run %s was submitted at %s (%d jobs); nothing submitted (use --force to plan it again)",
				ErrRunExists, in.RunID, old.UpdatedAt.Format(time.RFC3339), len(old.Jobs))
		case now.Sub(old.UpdatedAt) < in.Lease:
			return nil, fmt.Errorf("%w: run %s, last update %s; retry after %s",
				ErrRunBusy, in.RunID, old.UpdatedAt.Format(time.RFC3339), old.UpdatedAt.Add(in.Lease).Format(time.RFC3339))
		default:
			log.Warn("resuming an interrupted plan", "claimed_at", old.CreatedAt, "jobs_recorded", countSubmitted(old))
			rec, resume = old, true
			rec.UpdatedAt = now
			if err := putRecord(ctx, st, rec, false); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("plan %s: claim: %w", in.RunID, err)
	}

	// The manifest is immutable once jobs may read it: a resumed plan keeps
	// the one already written.
	writeManifest := true
	if resume {
		if _, err := st.Stat(ctx, rec.Manifest); err == nil {
			writeManifest = false
		}
	}
	if writeManifest {
		meta := manifest.Meta{RunID: in.RunID, CreatedAt: now, Extra: map[string]string{"version": in.Version}}
		if err := manifest.Save(ctx, st, rec.Manifest, meta, in.Rows, nil); err != nil {
			return nil, fmt.Errorf("plan %s: %w", in.RunID, err)
		}
		log.Info("wrote manifest", "key", rec.Manifest, "shops", len(in.Rows))
	}
	if err := submitJobs(ctx, api, st, rec, in.Target, resume, log, in.Now); err != nil {
		return rec, fmt.Errorf("plan %s: %w", in.RunID, err)
	}
	rec.State = StateSubmitted
	rec.UpdatedAt = in.Now().UTC()
	if err := putRecord(ctx, st, rec, false); err != nil {
		return rec, err
	}
	return rec, nil
}

func countSubmitted(r *Record) int {
	n := 0
	for _, j := range r.Jobs {
		if j.JobID != "" {
			n++
		}
	}
	return n
}

// archive keeps a replaced record under runs/<run>/history/.
func archive(ctx context.Context, st store.Store, old *Record, now time.Time) error {
	b, err := encodeRecord(old)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("%s/history/run-%s.json", RunDir(old.RunID), now.Format("20060102T150405.000000000Z"))
	if err := st.Put(ctx, key, bytes.NewReader(b), nil); err != nil {
		return fmt.Errorf("archive %s: %w", old.Key(), err)
	}
	return nil
}
