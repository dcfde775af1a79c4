package planner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store"
)

// ResumeInput names a run or re-run whose submission may have been cut
// short.
type ResumeInput struct {
	// Key is the record's key: RecordKey(run) or RerunRecordKey(run, k).
	Key string
	// Lease is how long a "planning" record of a planner that did not
	// release it is respected (DefaultLease when 0).
	Lease time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Log receives progress (slog.Default when nil).
	Log *slog.Logger
}

// Resume finishes the submission of a run or re-run whose planner stopped
// while submitting (interrupted, killed, its engine gone): the record still
// says "planning". It takes the record over, adopts the jobs already
// submitted under their fixed names (each looked up by name before any
// SubmitJob), submits the missing ones and marks the record submitted. A
// record already submitted is returned as it is, and nothing is submitted.
//
// A planner that stopped on an error or an interrupt released its claim,
// which Resume takes at once; a claim not released (the planner was
// killed) is waited for until its lease runs out, as Plan with WaitBusy.
func Resume(ctx context.Context, st store.Store, api Submitter, in ResumeInput) (*Record, error) {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Log == nil {
		in.Log = slog.Default()
	}
	if in.Lease == 0 {
		in.Lease = DefaultLease
	}
	waiting := false
	for {
		old, etag, err := readForSwap(ctx, st, in.Key)
		if err != nil {
			return nil, err
		}
		if old.State != StatePlanning {
			return old, nil
		}
		now := in.Now().UTC()
		if old.Owner != "" && now.Sub(old.UpdatedAt) < in.Lease {
			if !waiting {
				in.Log.Info("another planner holds the record; waiting for it or its lease", "key", in.Key, "owner", old.Owner,
					"until", old.UpdatedAt.Add(in.Lease).Format(time.RFC3339))
				waiting = true
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(min(busyPoll, old.UpdatedAt.Add(in.Lease).Sub(now))):
			}
			continue
		}
		took := *old
		took.Owner = newOwner()
		c, err := takeClaim(ctx, st, &took, etag, in.Lease, in.Now)
		if errors.Is(err, store.ErrChanged) {
			continue // another planner took it meanwhile: look again
		}
		if err != nil {
			return nil, fmt.Errorf("resume %s: %w", in.Key, err)
		}
		log := in.Log.With("key", in.Key, "owner", took.Owner)
		log.Info("resuming an interrupted submission", "previous_owner", old.Owner, "jobs_recorded", countSubmitted(old), "jobs", len(old.Jobs))
		if err := resume(ctx, c, api, &took, log); err != nil {
			c.release(ctx, &took)
			return &took, fmt.Errorf("resume %s: %w", in.Key, err)
		}
		return &took, nil
	}
}

func resume(ctx context.Context, c *claim, api Submitter, rec *Record, log *slog.Logger) error {
	f, err := manifest.Open(ctx, c.st, rec.Manifest)
	if errors.Is(err, store.ErrNotFound) {
		if countSubmitted(rec) > 0 {
			return fmt.Errorf("%d jobs submitted but the manifest is missing: %w", countSubmitted(rec), err)
		}
		return fmt.Errorf("stopped before its manifest was written, nothing was submitted; plan it again: %w", err)
	}
	if err != nil {
		return err
	}
	if f.NumRows() != rec.Shops {
		return fmt.Errorf("%s has %d shops but the record lays out %d", rec.Manifest, f.NumRows(), rec.Shops)
	}
	if err := submitJobs(ctx, api, c, rec, recordTarget(rec), log); err != nil {
		return err
	}
	rec.State = StateSubmitted
	return c.write(ctx, rec)
}

// recordTarget is the Target a record was submitted with, from its queue,
// root and Config ("job_definition.<stage>", "force").
func recordTarget(rec *Record) Target {
	t := Target{Queue: rec.Queue, Root: rec.Root, Force: rec.Config["force"] == "true"}
	for k, v := range rec.Config {
		if stage, ok := strings.CutPrefix(k, "job_definition."); ok && v != "" {
			if t.JobDefinitions == nil {
				t.JobDefinitions = map[string]string{}
			}
			t.JobDefinitions[stage] = v
		}
	}
	return t
}

// releaseWait bounds the write that releases a claim after an interrupt.
const releaseWait = 10 * time.Second

// release gives up the claim on rec after this planner stopped submitting
// (an error, an interrupt): the record keeps state "planning" and no owner,
// so that Resume (feedbatch status --wait) or a new plan takes it over at
// once instead of waiting for the lease. A claim already lost is left
// alone. It works on after ctx is cancelled (an interrupt is why it runs).
func (c *claim) release(ctx context.Context, rec *Record) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseWait)
	defer cancel()
	owner := rec.Owner
	rec.Owner = ""
	if err := c.swap(ctx, rec); err != nil {
		rec.Owner = owner
	}
}

// Interrupted reports whether rec is a submission that stopped before it
// was complete (state "planning"), with how many of its jobs were
// submitted.
func Interrupted(rec *Record) (submitted, jobs int, ok bool) {
	return countSubmitted(rec), len(rec.Jobs), rec.State == StatePlanning
}
