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

// busyPoll is how often a planner waiting for a busy run (WaitBusy) looks
// at its record again.
const busyPoll = 500 * time.Millisecond

// Plan claims the run id, writes the manifest and submits one job per stage
// (per shard) in graph order; see the package doc for how it submits
// exactly once. It returns the final run.json record.
func Plan(ctx context.Context, st store.Store, api Submitter, in PlanInput) (*Record, error) {
	p, err := Claim(ctx, st, in)
	if err != nil {
		return nil, err
	}
	return p.Submit(ctx, api)
}

// Planning is a run claimed by this planner and not yet submitted.
type Planning struct {
	c   *claim
	rec *Record
	in  PlanInput
	log *slog.Logger
}

// Claim is the first half of Plan: it claims the run id (or takes over a
// stale claim) without talking to Batch, so that a command can find out
// whether it owns the run before it starts or joins an engine.
func Claim(ctx context.Context, st store.Store, in PlanInput) (*Planning, error) {
	in.defaults()
	log := in.Log.With("run", in.RunID)
	if err := CheckRunID(in.RunID); err != nil {
		return nil, err
	}
	if len(in.Rows) == 0 {
		return nil, fmt.Errorf("plan %s: no shops", in.RunID)
	}
	now := in.Now().UTC()
	rec := &Record{
		RunID:     in.RunID,
		State:     StatePlanning,
		Owner:     newOwner(),
		Engine:    in.Engine,
		Queue:     in.Target.Queue,
		Root:      in.Target.Root,
		Manifest:  manifest.Key(in.RunID),
		Version:   in.Version,
		CreatedAt: now,
		UpdatedAt: now,
		Config:    maps.Clone(in.Config),
	}
	if err := layoutPlan(rec, in.Steps, int64(len(in.Rows))); err != nil {
		return nil, err
	}
	c, rec, err := claimPlan(ctx, st, rec, in, log)
	if err != nil {
		return nil, err
	}
	return &Planning{c: c, rec: rec, in: in, log: log.With("owner", rec.Owner)}, nil
}

// Submit is the second half of Plan: it writes the manifest and submits
// the jobs through api, failing with ErrClaimLost if another planner took
// the run over meanwhile.
func (p *Planning) Submit(ctx context.Context, api Submitter) (*Record, error) {
	rec, in := p.rec, p.in
	if err := ensureManifest(ctx, p.c, rec, in, p.log); err != nil {
		return rec, fmt.Errorf("plan %s: %w", in.RunID, err)
	}
	if err := submitJobs(ctx, api, p.c, rec, in.Target, p.log); err != nil {
		if !errors.Is(err, ErrClaimLost) {
			p.c.release(ctx, rec) // Resume takes it over at once
		}
		return rec, fmt.Errorf("plan %s: %w", in.RunID, err)
	}
	rec.State = StateSubmitted
	if err := p.c.write(ctx, rec); err != nil {
		return rec, fmt.Errorf("plan %s: %w", in.RunID, err)
	}
	return rec, nil
}

// layoutPlan lays out the jobs of a daily run of shops rows: one group of
// every stage.
func layoutPlan(rec *Record, steps []Step, shops int64) error {
	all := make([]string, 0, len(steps))
	for _, s := range steps {
		all = append(all, s.Name)
	}
	rec.Shops = shops
	rec.Groups = []Group{{Offset: 0, Size: shops, Stages: all}}
	prefix := "fb-" + rec.RunID
	if rec.Generation > 0 {
		prefix += fmt.Sprintf("-p%d", rec.Generation)
	}
	jobs, err := Layout(steps, rec.Groups, prefix)
	if err != nil {
		return fmt.Errorf("plan %s: %w", rec.RunID, err)
	}
	rec.Jobs = jobs
	return nil
}

// claimPlan makes this planner the owner of the run's record: it creates
// rec, or replaces the existing record (Replan: by rec, archiving the old
// one; a stale "planning" record: by that record with this planner as
// owner). It returns the claim and the record now owned.
func claimPlan(ctx context.Context, st store.Store, rec *Record, in PlanInput, log *slog.Logger) (*claim, *Record, error) {
	waiting := false
	for {
		c, err := createClaim(ctx, st, rec, in.Lease, in.Now)
		if err == nil {
			log.Info("claimed run", "key", rec.Key(), "owner", rec.Owner)
			return c, rec, nil
		}
		if !errors.Is(err, store.ErrChanged) {
			return nil, nil, fmt.Errorf("plan %s: claim: %w", in.RunID, err)
		}
		old, etag, err := readForSwap(ctx, st, rec.Key())
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile: claim it afresh
		}
		if err != nil {
			return nil, nil, fmt.Errorf("plan %s: %w", in.RunID, err)
		}
		now := in.Now().UTC()
		switch {
		case in.Replan:
			if err := archive(ctx, st, old, now); err != nil {
				return nil, nil, err
			}
			rec.Generation = old.Generation + 1
			if err := layoutPlan(rec, in.Steps, int64(len(in.Rows))); err != nil {
				return nil, nil, err
			}
			c, err := takeClaim(ctx, st, rec, etag, in.Lease, in.Now)
			if errors.Is(err, store.ErrChanged) {
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("plan %s: claim: %w", in.RunID, err)
			}
			log.Warn("planning again over an earlier plan", "earlier_created_at", old.CreatedAt, "generation", rec.Generation)
			return c, rec, nil
		case old.State == StateSubmitted:
			return nil, nil, fmt.Errorf("%w: run %s was submitted at %s (%d jobs); nothing submitted (use --force to plan it again)",
				ErrRunExists, in.RunID, old.UpdatedAt.Format(time.RFC3339), len(old.Jobs))
		case now.Sub(old.UpdatedAt) < in.Lease && old.Owner != "": // "": released
			if !in.WaitBusy {
				return nil, nil, fmt.Errorf("%w: run %s, last update %s; retry after %s",
					ErrRunBusy, in.RunID, old.UpdatedAt.Format(time.RFC3339), old.UpdatedAt.Add(in.Lease).Format(time.RFC3339))
			}
			if !waiting {
				log.Info("another planner holds the run; waiting for it", "owner", old.Owner, "updated_at", old.UpdatedAt)
				waiting = true
			}
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-time.After(min(busyPoll, old.UpdatedAt.Add(in.Lease).Sub(now))):
			}
		default:
			took := *old
			took.Owner = rec.Owner
			c, err := takeClaim(ctx, st, &took, etag, in.Lease, in.Now)
			if errors.Is(err, store.ErrChanged) {
				continue // renewed or taken over by another planner meanwhile
			}
			if err != nil {
				return nil, nil, fmt.Errorf("plan %s: claim: %w", in.RunID, err)
			}
			log.Warn("taking over an interrupted plan", "previous_owner", old.Owner, "updated_at", old.UpdatedAt, "jobs_recorded", countSubmitted(old))
			return c, &took, nil
		}
	}
}

// ensureManifest makes sure the run's manifest exists and rec is laid out
// for it. The manifest is written once (IfAbsent), never rewritten: jobs
// read it. A planner that finds one (written by the planner it took over
// from, or by a stale one) keeps it and lays its jobs out for its rows.
// Only Replan replaces it.
func ensureManifest(ctx context.Context, c *claim, rec *Record, in PlanInput, log *slog.Logger) error {
	if err := c.write(ctx, rec); err != nil {
		return err
	}
	meta := manifest.Meta{RunID: in.RunID, CreatedAt: in.Now().UTC(), Extra: map[string]string{"version": in.Version, "planner": rec.Owner}}
	shops := int64(len(in.Rows))
	err := manifest.Save(ctx, c.st, rec.Manifest, meta, in.Rows, &store.PutOptions{IfAbsent: !in.Replan})
	switch {
	case err == nil:
		log.Info("wrote manifest", "key", rec.Manifest, "shops", shops)
	case errors.Is(err, store.ErrExists):
		f, err := manifest.Open(ctx, c.st, rec.Manifest)
		if err != nil {
			return err
		}
		shops = f.NumRows()
		log.Info("keeping the manifest already written for this run", "key", rec.Manifest, "shops", shops, "written_by", f.Meta().Extra["planner"])
	default:
		return err
	}
	if shops == rec.Shops {
		return nil
	}
	if n := countSubmitted(rec); n > 0 {
		return fmt.Errorf("%s has %d shops but run.json lays out %d with %d jobs submitted; plan the run again with --force", rec.Manifest, shops, rec.Shops, n)
	}
	if err := layoutPlan(rec, in.Steps, shops); err != nil {
		return err
	}
	return c.write(ctx, rec)
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
