// Package stagetest is what every stage must satisfy: a result record is
// written, published outputs exist, a second run gives identical outputs, and
// a cancelled run leaves the published outputs as they were.
//
// Each stage's test calls Run with a function that prepares a job (its inputs
// already in job.Store).
package stagetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// Run checks the contract of st on jobs made by newJob.
func Run(t *testing.T, st stages.Stage, newJob func(t *testing.T) stages.Job) {
	t.Helper()
	t.Run("ResultRecord", func(t *testing.T) {
		job := newJob(t)
		res, err := stages.Execute(t.Context(), st, job)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		got := readResult(t, job, st.Name())
		if got.Status != stages.StatusSucceeded || got.Stage != st.Name() ||
			got.ShopID != job.Row.ShopID || got.Index != job.Row.Index {
			t.Errorf("result record = %+v, want succeeded %s shop %s index %d",
				got, st.Name(), job.Row.ShopID, job.Row.Index)
		}
		if got.ItemsOut != res.ItemsOut {
			t.Errorf("record items_out %d, returned %d", got.ItemsOut, res.ItemsOut)
		}
		for _, key := range res.Outputs {
			if _, err := job.Store.Stat(t.Context(), key); err != nil {
				t.Errorf("output %s listed but not stored: %v", key, err)
			}
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		job := newJob(t)
		first, err := stages.Execute(t.Context(), st, job)
		if err != nil {
			t.Fatalf("first Execute: %v", err)
		}
		before := snapshot(t, job.Store, first.Outputs)
		second, err := stages.Execute(t.Context(), st, job)
		if err != nil {
			t.Fatalf("second Execute: %v", err)
		}
		after := snapshot(t, job.Store, second.Outputs)
		for key, sum := range before {
			if after[key] != sum {
				t.Errorf("output %s changed between identical runs", key)
			}
		}
	})
	t.Run("CancelledKeepsOutputs", func(t *testing.T) {
		job := newJob(t)
		first, err := stages.Execute(t.Context(), st, job)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		before := snapshot(t, job.Store, first.Outputs)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err = stages.Execute(ctx, st, job)
		if err == nil {
			// A stage may legitimately finish without blocking on ctx (for
			// example when nothing changed); outputs must still be intact.
			t.Log("stage succeeded with a cancelled context")
		} else if !errors.Is(err, context.Canceled) {
			t.Logf("cancelled run error: %v", err)
		}
		after := snapshot(t, job.Store, first.Outputs)
		for key, sum := range before {
			if after[key] != sum {
				t.Errorf("output %s changed by a cancelled run", key)
			}
		}
		if err != nil {
			if got := readResult(t, job, st.Name()); got.Status != stages.StatusFailed || got.Error == "" {
				t.Errorf("cancelled run record = %+v, want failed with error", got)
			}
		}
	})
}

func readResult(t *testing.T, job stages.Job, stage string) stages.Result {
	t.Helper()
	key := stages.ResultKey(job.ManifestKey, stage, job.Row.Index)
	rc, err := job.Store.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("result record %s: %v", key, err)
	}
	defer rc.Close()
	var res stages.Result
	if err := json.NewDecoder(rc).Decode(&res); err != nil {
		t.Fatalf("decode result record %s: %v", key, err)
	}
	return res
}

func snapshot(t *testing.T, st store.Store, keys []string) map[string]string {
	t.Helper()
	sums := make(map[string]string, len(keys))
	for _, key := range keys {
		rc, err := st.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("output %s: %v", key, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read output %s: %v", key, err)
		}
		sums[key] = fmt.Sprintf("%x", h.Sum(nil))
	}
	return sums
}
