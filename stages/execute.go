package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/feedbatch/feedbatch/internal/secret"
	"github.com/feedbatch/feedbatch/store"
)

// nowFunc is the clock; tests replace it.
var nowFunc = time.Now

// Execute runs st for job, times it, and writes the result record to
// ResultKey whether the stage succeeded or not. It returns the stage's error
// (wrapped with the stage and shop), or the error writing the record.
func Execute(ctx context.Context, st Stage, job Job) (Result, error) {
	start := nowFunc().UTC()
	res, err := st.Run(ctx, job)
	res.Stage = st.Name()
	res.RunID = job.RunID
	res.ManifestKey = job.ManifestKey
	res.Index = job.Row.Index
	res.OriginIndex = job.Row.OriginIndex
	res.ShopID = job.Row.ShopID
	res.Attempt = job.Attempt
	res.JobID = job.JobID
	res.StartedAt = start
	res.FinishedAt = nowFunc().UTC()
	res.DurationMS = res.FinishedAt.Sub(start).Milliseconds()
	res.Status = StatusSucceeded
	if err != nil {
		if errors.Is(err, store.ErrInvalidKey) && !errors.Is(err, ErrPermanent) {
			// A key made from the shop's data stays invalid on a retry.
			err = Permanent(err)
		}
		// A stage's error may quote a URL or DSN with its credentials
		// resolved (net/http's errors hold the URL): it is recorded and
		// returned redacted.
		err = secret.Error(fmt.Errorf("%s shop %s: %w", st.Name(), job.Row.ShopID, err))
		res.Status = StatusFailed
		res.Error = err.Error()
		// A stage stopped mid-way (SIGTERM) was interrupted, not wrong,
		// whatever the cut-short step made of it.
		res.Permanent = errors.Is(err, ErrPermanent) && ctx.Err() == nil
	}
	// The record must land even when ctx was cancelled (timeout, SIGTERM).
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if werr := WriteResult(wctx, job, res); werr != nil {
		return res, errors.Join(err, werr)
	}
	return res, err
}

// WriteResult stores res as JSON at ResultKey.
func WriteResult(ctx context.Context, job Job, res Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	key := ResultKey(job.ManifestKey, res.Stage, res.Index)
	if err := job.Store.Put(ctx, key, bytes.NewReader(b), nil); err != nil {
		return fmt.Errorf("write result %s: %w", key, err)
	}
	return nil
}

// Refused is st failing with err without running: Execute then records the
// refusal like any failure (a manifest row whose options do not parse).
func Refused(st Stage, err error) Stage { return refused{st.Name(), err} }

type refused struct {
	name string
	err  error
}

func (r refused) Name() string                             { return r.name }
func (r refused) Run(context.Context, Job) (Result, error) { return Result{}, r.err }
