package stages_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

type fakeStage struct {
	res stages.Result
	err error
}

func (fakeStage) Name() string { return "fake" }
func (f fakeStage) Run(context.Context, stages.Job) (stages.Result, error) {
	return f.res, f.err
}

func TestExecuteWritesResultRecord(t *testing.T) {
	tests := []struct {
		name          string
		stage         fakeStage
		wantStatus    string
		wantPermanent bool
		wantErr       bool
	}{
		{"success", fakeStage{res: stages.Result{ItemsIn: 3, ItemsOut: 2, Dropped: map[string]int64{"bad_price": 1}}}, stages.StatusSucceeded, false, false},
		{"retryable failure", fakeStage{err: errors.New("connection reset")}, stages.StatusFailed, false, true},
		{"permanent failure", fakeStage{err: stages.Permanentf("source gone: 404")}, stages.StatusFailed, true, true},
		{"invalid store key", fakeStage{err: fmt.Errorf("write feed: %w", store.CheckKey("shops/../feeds/x"))}, stages.StatusFailed, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New()
			job := stages.Job{
				RunID:       "2026-11-23",
				ManifestKey: "runs/2026-11-23/manifest.parquet",
				Row:         manifest.Row{Index: 7, ShopID: "shop-a", OriginIndex: -1},
				Store:       st,
				Attempt:     2,
				JobID:       "arr-fake:7",
			}
			res, err := stages.Execute(t.Context(), tc.stage, job)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && errors.Is(err, stages.ErrPermanent) != tc.wantPermanent {
				t.Errorf("errors.Is(err, ErrPermanent) = %v, want %v", !tc.wantPermanent, tc.wantPermanent)
			}
			rc, gerr := st.Get(t.Context(), "runs/2026-11-23/results/fake/7.json")
			if gerr != nil {
				t.Fatalf("result record: %v", gerr)
			}
			defer rc.Close()
			var got stages.Result
			if err := json.NewDecoder(rc).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.Status != tc.wantStatus || got.Permanent != tc.wantPermanent {
				t.Errorf("status %q permanent %v, want %q %v", got.Status, got.Permanent, tc.wantStatus, tc.wantPermanent)
			}
			if got.ShopID != "shop-a" || got.Index != 7 || got.Attempt != 2 || got.Stage != "fake" || got.RunID != "2026-11-23" || got.JobID != "arr-fake:7" {
				t.Errorf("identity fields wrong: %+v", got)
			}
			if got.FinishedAt.Before(got.StartedAt) {
				t.Errorf("finished %v before started %v", got.FinishedAt, got.StartedAt)
			}
			if tc.wantErr && got.Error == "" {
				t.Error("failed record has no error text")
			}
			if diff := cmp.Diff(res.Dropped, got.Dropped); diff != "" {
				t.Errorf("dropped (-returned +record):\n%s", diff)
			}
		})
	}
}

func TestExecuteWritesRecordAfterCancel(t *testing.T) {
	st := memstore.New()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	job := stages.Job{ManifestKey: "runs/r/manifest.parquet", Row: manifest.Row{Index: 0, ShopID: "s"}, Store: st}
	_, err := stages.Execute(ctx, fakeStage{err: ctx.Err()}, job)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := st.Stat(t.Context(), "runs/r/results/fake/0.json"); err != nil {
		t.Fatalf("no record after cancel: %v", err)
	}
}

// TestExecuteInterruptedIsNotPermanent: a stage stopped by SIGTERM whose
// cut-short step reported a permanent error is recorded as retryable.
func TestExecuteInterruptedIsNotPermanent(t *testing.T) {
	st := memstore.New()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	job := stages.Job{ManifestKey: "runs/r/manifest.parquet", Row: manifest.Row{Index: 0, ShopID: "s"}, Store: st}
	if _, err := stages.Execute(ctx, fakeStage{err: stages.Permanentf("after 10 rows: unexpected EOF")}, job); err == nil {
		t.Fatal("no error")
	}
	rc, err := st.Get(t.Context(), "runs/r/results/fake/0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got stages.Result
	if err := json.NewDecoder(rc).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Status != stages.StatusFailed || got.Permanent {
		t.Errorf("interrupted stage recorded as %q permanent=%v, want failed and not permanent", got.Status, got.Permanent)
	}
}

func TestResultKey(t *testing.T) {
	tests := []struct{ manifest, want string }{
		{"runs/2026-11-23/manifest.parquet", "runs/2026-11-23/results/feed/3.json"},
		{"runs/2026-11-23/reruns/2/manifest.parquet", "runs/2026-11-23/reruns/2/results/feed/3.json"},
	}
	for _, tc := range tests {
		if got := stages.ResultKey(tc.manifest, "feed", 3); got != tc.want {
			t.Errorf("ResultKey(%q) = %q, want %q", tc.manifest, got, tc.want)
		}
	}
}

func TestPermanent(t *testing.T) {
	if stages.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	base := context.DeadlineExceeded
	err := stages.Permanent(base)
	if !errors.Is(err, stages.ErrPermanent) || !errors.Is(err, base) {
		t.Errorf("Permanent error does not unwrap to both: %v", err)
	}
}
