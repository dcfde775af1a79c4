package planner

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

var testSteps = []Step{{Name: "collect"}, {Name: "feed", After: []string{"collect"}}, {Name: "image", After: []string{"collect"}}}

func testRows(n int) []manifest.Row {
	rows := make([]manifest.Row, n)
	for i := range rows {
		rows[i] = manifest.Row{
			Index:        int64(i),
			ShopID:       fmt.Sprintf("shop-%05d", i),
			Name:         fmt.Sprintf("Shop %d", i),
			Source:       manifest.Source{URL: fmt.Sprintf("file:///catalogs/%d.csv", i)},
			Platforms:    []string{"google"},
			Currency:     "EUR",
			Country:      "DE",
			Image:        manifest.DefaultImageSpec,
			OutputPrefix: fmt.Sprintf("shops/shop-%05d/", i),
			OriginIndex:  -1,
		}
	}
	return rows
}

var testNow = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

func planInput(n int) PlanInput {
	return PlanInput{
		RunID:   "2026-11-23",
		Rows:    testRows(n),
		Steps:   testSteps,
		Target:  Target{Queue: "feedbatch", Root: "file:///data"},
		Engine:  "local",
		Version: "test",
		Now:     func() time.Time { return testNow },
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// submittedJob is the comparable shape of one SubmitJob call.
type submittedJob struct {
	Name    string
	Def     string
	Size    int32
	Env     map[string]string
	Depends []string // "id/type"
}

func summarize(f *fakeBatch) []submittedJob {
	var out []submittedJob
	for _, in := range f.submitted {
		j := submittedJob{Name: aws.ToString(in.JobName), Def: aws.ToString(in.JobDefinition), Env: env(in)}
		if in.ArrayProperties != nil {
			j.Size = aws.ToInt32(in.ArrayProperties.Size)
		}
		for _, d := range in.DependsOn {
			j.Depends = append(j.Depends, aws.ToString(d.JobId)+"/"+string(d.Type))
		}
		out = append(out, j)
	}
	return out
}

func baseEnv(extra ...string) map[string]string {
	m := map[string]string{"FEEDBATCH_ROOT": "file:///data", "FEEDBATCH_MANIFEST": "runs/2026-11-23/manifest.parquet"}
	for i := 0; i < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func TestPlanLayouts(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want []submittedJob
	}{
		{"three shops", 3, []submittedJob{
			{Name: "fb-2026-11-23-collect", Def: "feedbatch-collect", Size: 3, Env: baseEnv()},
			{Name: "fb-2026-11-23-feed", Def: "feedbatch-feed", Size: 3, Env: baseEnv(), Depends: []string{"job-1/N_TO_N"}},
			{Name: "fb-2026-11-23-image", Def: "feedbatch-image", Size: 3, Env: baseEnv(), Depends: []string{"job-1/N_TO_N"}},
		}},
		{"one shop: plain jobs", 1, []submittedJob{
			{Name: "fb-2026-11-23-collect", Def: "feedbatch-collect", Env: baseEnv("FEEDBATCH_INDEX", "0")},
			{Name: "fb-2026-11-23-feed", Def: "feedbatch-feed", Env: baseEnv("FEEDBATCH_INDEX", "0"), Depends: []string{"job-1/"}},
			{Name: "fb-2026-11-23-image", Def: "feedbatch-image", Env: baseEnv("FEEDBATCH_INDEX", "0"), Depends: []string{"job-1/"}},
		}},
		{"10,000 shops: one array", 10000, []submittedJob{
			{Name: "fb-2026-11-23-collect", Def: "feedbatch-collect", Size: 10000, Env: baseEnv()},
			{Name: "fb-2026-11-23-feed", Def: "feedbatch-feed", Size: 10000, Env: baseEnv(), Depends: []string{"job-1/N_TO_N"}},
			{Name: "fb-2026-11-23-image", Def: "feedbatch-image", Size: 10000, Env: baseEnv(), Depends: []string{"job-1/N_TO_N"}},
		}},
		{"10,001 shops: two balanced shards paired N_TO_N", 10001, []submittedJob{
			{Name: "fb-2026-11-23-collect-s0", Def: "feedbatch-collect", Size: 5001, Env: baseEnv()},
			{Name: "fb-2026-11-23-feed-s0", Def: "feedbatch-feed", Size: 5001, Env: baseEnv(), Depends: []string{"job-1/N_TO_N"}},
			{Name: "fb-2026-11-23-image-s0", Def: "feedbatch-image", Size: 5001, Env: baseEnv(), Depends: []string{"job-1/N_TO_N"}},
			{Name: "fb-2026-11-23-collect-s1", Def: "feedbatch-collect", Size: 5000, Env: baseEnv("FEEDBATCH_INDEX_OFFSET", "5001")},
			{Name: "fb-2026-11-23-feed-s1", Def: "feedbatch-feed", Size: 5000, Env: baseEnv("FEEDBATCH_INDEX_OFFSET", "5001"), Depends: []string{"job-4/N_TO_N"}},
			{Name: "fb-2026-11-23-image-s1", Def: "feedbatch-image", Size: 5000, Env: baseEnv("FEEDBATCH_INDEX_OFFSET", "5001"), Depends: []string{"job-4/N_TO_N"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, f := memstore.New(), newFake()
			rec, err := Plan(t.Context(), st, f, planInput(tc.n))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summarize(f)); diff != "" {
				t.Errorf("submitted -want +got:\n%s", diff)
			}
			got, err := ReadRecord(t.Context(), st, RecordKey("2026-11-23"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(rec, got); diff != "" {
				t.Errorf("run.json differs from returned record:\n%s", diff)
			}
			if got.State != StateSubmitted || len(got.Jobs) != len(tc.want) {
				t.Fatalf("record state %s with %d jobs", got.State, len(got.Jobs))
			}
			for i, j := range got.Jobs {
				if j.JobID != f.ids[i] {
					t.Errorf("job %s id %q, want %q", j.Name, j.JobID, f.ids[i])
				}
			}
			m, err := manifest.Open(t.Context(), st, got.Manifest)
			if err != nil {
				t.Fatal(err)
			}
			if m.NumRows() != int64(tc.n) {
				t.Errorf("manifest has %d rows, want %d", m.NumRows(), tc.n)
			}
		})
	}
}

func TestShardsCoverEveryIndexOnce(t *testing.T) {
	for _, n := range []int64{1, 2, 9999, 10000, 10001, 19999, 20000, 20001, 123457} {
		shards := Shards(0, n)
		var next int64
		for _, s := range shards {
			if s[0] != next || s[1] < 1 || s[1] > MaxArraySize || (n > 1 && s[1] < 2) {
				t.Fatalf("n=%d: bad shard %v after %d (%v)", n, s, next, shards)
			}
			next += s[1]
		}
		if next != n {
			t.Fatalf("n=%d: shards cover %d", n, next)
		}
	}
}

func TestPlanTwiceSubmitsNothing(t *testing.T) {
	st, f := memstore.New(), newFake()
	if _, err := Plan(t.Context(), st, f, planInput(3)); err != nil {
		t.Fatal(err)
	}
	_, err := Plan(t.Context(), st, f, planInput(3))
	if !errors.Is(err, ErrRunExists) {
		t.Fatalf("second plan: %v, want ErrRunExists", err)
	}
	if len(f.submitted) != 3 {
		t.Fatalf("%d submissions after the refused plan, want 3", len(f.submitted))
	}
	in := planInput(3)
	in.Replan = true
	if _, err := Plan(t.Context(), st, f, in); err != nil {
		t.Fatalf("forced plan: %v", err)
	}
	if len(f.submitted) != 6 {
		t.Fatalf("%d submissions after forced plan, want 6", len(f.submitted))
	}
	var history int
	st.List(t.Context(), "runs/2026-11-23/history/", func(store.Info) error { history++; return nil })
	if history != 1 {
		t.Errorf("%d archived records, want 1", history)
	}
}

func TestPlanResumeAdoptsSubmittedJobs(t *testing.T) {
	st, f := memstore.New(), newFake()
	// The second SubmitJob creates its job but the answer is lost, and the
	// planner then dies (simulated: the adoption path finds it on the spot).
	f.failSubmitAfterCreate = 2
	rec, err := Plan(t.Context(), st, f, planInput(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.submitted) != 3 || rec.Jobs[1].JobID != "job-2" {
		t.Fatalf("submitted %d, feed id %s", len(f.submitted), rec.Jobs[1].JobID)
	}

	// A planner that died after submitting collect: run.json says planning
	// with only collect's id. A second planner within the lease refuses; after
	// the lease it resumes, adopting nothing twice.
	st, f = memstore.New(), newFake()
	in := planInput(3)
	rec, err = Plan(t.Context(), st, f, in)
	if err != nil {
		t.Fatal(err)
	}
	rec.State = StatePlanning
	rec.Jobs[1].JobID, rec.Jobs[2].JobID = "", "" // feed was submitted, its id not recorded
	f.submitted, f.ids = f.submitted[:2], f.ids[:2]
	overwriteRecord(t, st, rec)
	if _, err := Plan(t.Context(), st, f, in); !errors.Is(err, ErrRunBusy) {
		t.Fatalf("plan within lease: %v, want ErrRunBusy", err)
	}
	in.Now = func() time.Time { return testNow.Add(time.Hour) }
	rec, err = Plan(t.Context(), st, f, in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"fb-2026-11-23-collect", "fb-2026-11-23-feed", "fb-2026-11-23-image"}, names(f)); diff != "" {
		t.Errorf("submissions -want +got:\n%s", diff)
	}
	if rec.State != StateSubmitted || rec.Jobs[1].JobID != "job-2" || rec.Jobs[2].JobID != "job-3" {
		t.Errorf("resumed record: %+v", rec.Jobs)
	}
	if got := aws.ToString(f.submitted[2].DependsOn[0].JobId); got != "job-1" || f.submitted[2].DependsOn[0].Type != types.ArrayJobDependencyNToN {
		t.Errorf("image depends on %s", got)
	}
}

func names(f *fakeBatch) []string {
	var out []string
	for _, s := range f.submitted {
		out = append(out, aws.ToString(s.JobName))
	}
	return out
}

func TestCheckRunID(t *testing.T) {
	for id, ok := range map[string]bool{"2026-11-23": true, "adhoc_1": true, "": false, "../x": false, "a/b": false, "-x": false, "a.b": false} {
		if err := CheckRunID(id); (err == nil) != ok {
			t.Errorf("CheckRunID(%q) = %v", id, err)
		}
	}
}

func TestDownstream(t *testing.T) {
	tests := []struct {
		chosen []string
		want   []string
	}{
		{[]string{"feed"}, []string{"feed"}},
		{[]string{"collect"}, []string{"collect", "feed", "image"}},
		{[]string{"image", "feed"}, []string{"feed", "image"}},
		{nil, nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, Downstream(testSteps, tc.chosen)); diff != "" {
			t.Errorf("Downstream(%v) -want +got:\n%s", tc.chosen, diff)
		}
	}
}

func TestPlanWaitsForBusyPlanner(t *testing.T) {
	st, f := memstore.New(), newFake()
	in := planInput(3)
	in.Now = time.Now
	rec, err := Plan(t.Context(), st, f, in)
	if err != nil {
		t.Fatal(err)
	}
	// Another planner claimed the run just now and died before submitting
	// image; a waiting planner resumes once the lease has run out.
	rec.State, rec.UpdatedAt, rec.Jobs[2].JobID = StatePlanning, time.Now().UTC(), ""
	f.submitted, f.ids = f.submitted[:2], f.ids[:2]
	overwriteRecord(t, st, rec)
	in.Lease, in.WaitBusy = 300*time.Millisecond, true
	start := time.Now()
	rec, err = Plan(t.Context(), st, f, in)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 250*time.Millisecond || rec.State != StateSubmitted || len(f.submitted) != 3 {
		t.Errorf("after %s: state %s, %d submissions", time.Since(start), rec.State, len(f.submitted))
	}
}

func TestWaitGivesUpOnUnknownJobs(t *testing.T) {
	st, f := memstore.New(), newFake()
	rec, err := Plan(t.Context(), st, f, planInput(3))
	if err != nil {
		t.Fatal(err)
	}
	// The fake describes no job: the engine does not know them.
	if _, err := Wait(t.Context(), f, rec, time.Millisecond, nil); err == nil || !strings.Contains(err.Error(), "unknown to the engine") {
		t.Fatalf("Wait: %v", err)
	}
}
