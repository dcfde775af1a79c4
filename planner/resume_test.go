package planner

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// interruptingBatch is f whose SubmitJob number cut (1-based) is
// interrupted before the request leaves (an operator's Ctrl-C).
type interruptingBatch struct {
	*fakeBatch
	cut, n int
}

func (b *interruptingBatch) SubmitJob(ctx context.Context, in *batch.SubmitJobInput, opts ...func(*batch.Options)) (*batch.SubmitJobOutput, error) {
	if b.n++; b.n == b.cut {
		return nil, context.Canceled
	}
	return b.fakeBatch.SubmitJob(ctx, in, opts...)
}

// TestResumeInterruptedPlan: a plan interrupted after its first job leaves
// run.json "planning" and released; Resume adopts the submitted job by its
// name, submits the two missing ones, and a second Resume submits nothing.
func TestResumeInterruptedPlan(t *testing.T) {
	st, f := memstore.New(), newFake()
	in := planInput(3)
	_, err := Plan(t.Context(), st, &interruptingBatch{fakeBatch: f, cut: 2}, in)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted plan: %v", err)
	}
	rec, err := ReadRecord(t.Context(), st, RecordKey(in.RunID))
	if err != nil {
		t.Fatal(err)
	}
	if n, jobs, ok := Interrupted(rec); !ok || n != 1 || jobs != 3 || rec.Owner != "" {
		t.Fatalf("after the interrupt: %d of %d submitted, interrupted %v, owner %q", n, jobs, ok, rec.Owner)
	}
	// The id of the first job was lost with the interrupt: it is found by name.
	rec.Jobs[0].JobID = ""
	overwriteRecord(t, st, rec)

	got, err := Resume(t.Context(), st, f, ResumeInput{Key: RecordKey(in.RunID), Now: in.Now, Log: in.Log})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"fb-2026-11-23-collect", "fb-2026-11-23-feed", "fb-2026-11-23-image"}
	if diff := cmp.Diff(want, names(f)); diff != "" {
		t.Errorf("submissions -want +got:\n%s", diff)
	}
	if got.State != StateSubmitted || got.Jobs[0].JobID != "job-1" || got.Jobs[2].JobID != "job-3" {
		t.Errorf("resumed record: %s %+v", got.State, got.Jobs)
	}
	if _, err := Resume(t.Context(), st, f, ResumeInput{Key: RecordKey(in.RunID), Now: in.Now, Log: in.Log}); err != nil || len(f.submitted) != 3 {
		t.Errorf("second resume: %v, %d submissions", err, len(f.submitted))
	}
}

// TestResumeKilledPlannerWaitsForLease: a planner killed while submitting
// did not release its claim: Resume waits for its lease, then resumes.
func TestResumeKilledPlannerWaitsForLease(t *testing.T) {
	st, f := memstore.New(), newFake()
	in := planInput(3)
	rec, err := Plan(t.Context(), st, f, in)
	if err != nil {
		t.Fatal(err)
	}
	rec.State, rec.Owner = StatePlanning, "killed"
	rec.Jobs[2].JobID = ""
	f.submitted, f.ids = f.submitted[:2], f.ids[:2]
	overwriteRecord(t, st, rec)

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := Resume(ctx, st, f, ResumeInput{Key: RecordKey(in.RunID), Now: in.Now, Log: in.Log}); !errors.Is(err, context.DeadlineExceeded) || len(f.submitted) != 2 {
		t.Fatalf("within the lease: %v, %d submissions", err, len(f.submitted))
	}
	later := func() time.Time { return testNow.Add(time.Hour) }
	got, err := Resume(t.Context(), st, f, ResumeInput{Key: RecordKey(in.RunID), Now: later, Log: in.Log})
	if err != nil || got.State != StateSubmitted || len(f.submitted) != 3 {
		t.Fatalf("after the lease: %v, %d submissions", err, len(f.submitted))
	}
}

// TestResumeInterruptedRerun: an interrupted re-run is finished the same
// way, with its own job names and offsets.
func TestResumeInterruptedRerun(t *testing.T) {
	st, f, _ := failedRun(t)
	before := len(f.submitted)
	in := RerunInput{Run: "2026-11-23", Failed: true, Steps: testSteps, Target: Target{Queue: "feedbatch", Root: "file:///data", Force: true},
		Config: map[string]string{"force": "true"}, Now: func() time.Time { return testNow }, Log: planInput(1).Log}
	_, err := Rerun(t.Context(), st, &interruptingBatch{fakeBatch: f, cut: 2}, in)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted rerun: %v", err)
	}
	key := RerunRecordKey("2026-11-23", 1)
	got, err := Resume(t.Context(), st, f, ResumeInput{Key: key, Now: in.Now, Log: in.Log})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateSubmitted || countSubmitted(got) != len(got.Jobs) || len(f.submitted)-before != len(got.Jobs) {
		t.Errorf("resumed re-run: %s, %d of %d jobs, %d submissions", got.State, countSubmitted(got), len(got.Jobs), len(f.submitted)-before)
	}
	for _, s := range f.submitted[before:] {
		if env(s)["FEEDBATCH_FORCE"] != "1" {
			t.Errorf("%s lost the re-run's --force", *s.JobName)
		}
	}
}

// TestRerunFromCurrent: with Current (the registry now), the chosen shops'
// rows take its settings and keep their origin index; the plan lists what
// changed; a chosen shop no longer in the registry is refused.
func TestRerunFromCurrent(t *testing.T) {
	st, f, _ := failedRun(t)
	current := map[string]manifest.Row{}
	for _, r := range testRows(50) {
		current[r.ShopID] = r
	}
	fixed := current["shop-00017"]
	fixed.Platforms = []string{"meta"}
	current["shop-00017"] = fixed
	in := RerunInput{Run: "2026-11-23", Indexes: []int64{17, 20}, Current: current, Steps: testSteps,
		Target: Target{Queue: "feedbatch", Root: "file:///data"}, Now: func() time.Time { return testNow }, Log: planInput(1).Log}
	p, err := Rerun(t.Context(), st, f, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 || p.Changes[0].ShopID != "shop-00017" || !slices.Equal(p.Changes[0].Fields, []string{"platforms"}) {
		t.Errorf("changes: %+v", p.Changes)
	}
	rows, _, err := manifest.ReadAll(t.Context(), st, p.Record.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].OriginIndex != 17 || rows[0].Index != 0 || rows[0].OriginRun != "2026-11-23" ||
		!slices.Equal(rows[0].Platforms, []string{"meta"}) || !slices.Equal(rows[1].Platforms, []string{"google"}) {
		t.Errorf("re-run rows: %+v", rows)
	}
	delete(current, "shop-00020")
	in.DryRun = true
	if _, err := Rerun(t.Context(), st, f, in); !errors.Is(err, ErrNotInRegistry) {
		t.Errorf("shop gone from the registry: %v", err)
	}
}
