package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// finish sets the children of job (size n at offset) in the fake: every
// child succeeded except those in fail (exit code 65) and skip (dependency).
func (f *fakeBatch) finish(j Job, fail, skip []int64) {
	var kids []types.JobSummary
	for i := int64(0); i < j.Size; i++ {
		idx := j.Offset + i
		s := types.JobSummary{JobId: aws.String(j.ChildID(idx)), Status: types.JobStatusSucceeded, Container: &types.ContainerSummary{ExitCode: aws.Int32(0)}}
		if j.Array() {
			s.ArrayProperties = &types.ArrayPropertiesSummary{Index: aws.Int32(int32(i))}
		}
		switch {
		case contains(fail, idx):
			s.Status, s.StatusReason, s.Container.ExitCode = types.JobStatusFailed, aws.String("Essential container in task exited"), aws.Int32(65)
		case contains(skip, idx):
			s.Status, s.StatusReason, s.Container = types.JobStatusFailed, aws.String(ReasonDependentFailed), nil
		}
		kids = append(kids, s)
	}
	f.mu.Lock()
	f.children[j.JobID] = kids
	f.mu.Unlock()
}

func contains(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func putResult(tb testing.TB, st store.Store, manifestKey, stage string, index int64) {
	b, _ := json.Marshal(stages.Result{Stage: stage, Index: index, Status: stages.StatusSucceeded, Attempt: 1})
	if err := st.Put(tb.Context(), stages.ResultKey(manifestKey, stage, index), bytes.NewReader(b), nil); err != nil {
		tb.Fatal(err)
	}
}

func writeResult(t *testing.T, st store.Store, manifestKey, stage string, index int64, status string) {
	t.Helper()
	b, _ := json.Marshal(stages.Result{Stage: stage, Index: index, Status: status, Attempt: 2, DurationMS: 1500, Error: map[bool]string{true: "boom"}[status == stages.StatusFailed]})
	if err := st.Put(t.Context(), stages.ResultKey(manifestKey, stage, index), bytes.NewReader(b), nil); err != nil {
		t.Fatal(err)
	}
}

// failedRun plans 50 shops and ends them: collect fails for 3 (feed and
// image skipped), feed fails for 17, image fails for 40 (known from its
// result record only for 41, which the engine forgot).
func failedRun(t *testing.T) (store.Store, *fakeBatch, *Record) {
	st, f := memstore.New(), newFake()
	rec, err := Plan(t.Context(), st, f, planInput(50))
	if err != nil {
		t.Fatal(err)
	}
	f.finish(rec.Jobs[0], []int64{3}, nil)
	f.finish(rec.Jobs[1], []int64{17}, []int64{3})
	f.finish(rec.Jobs[2], []int64{40}, []int64{3})
	f.mu.Lock()
	kids := f.children[rec.Jobs[2].JobID]
	f.children[rec.Jobs[2].JobID] = append(kids[:41], kids[42:]...)
	f.mu.Unlock()
	writeResult(t, st, rec.Manifest, "image", 41, stages.StatusFailed)
	writeResult(t, st, rec.Manifest, "feed", 17, stages.StatusFailed)
	return st, f, rec
}

func TestStatus(t *testing.T) {
	st, f, _ := failedRun(t)
	s, err := ReadStatus(t.Context(), st, f, StatusInput{Run: "2026-11-23"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"collect": "3", "feed": "17", "image": "40-41"}, s.Failed); diff != "" {
		t.Errorf("failed -want +got:\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"feed": "3", "image": "3"}, s.Skipped); diff != "" {
		t.Errorf("skipped -want +got:\n%s", diff)
	}
	if got := s.Counts["collect"]["SUCCEEDED"]; got != 49 {
		t.Errorf("collect succeeded %d, want 49", got)
	}
	feed17 := s.Shops[17].Stages["feed"].Latest
	if feed17.Attempts != 2 || aws.ToInt32(feed17.ExitCode) != 65 || feed17.Error != "boom" || feed17.DurationMS != 1500 {
		t.Errorf("feed 17: %+v", feed17)
	}

	one, err := ReadStatus(t.Context(), st, f, StatusInput{Run: "2026-11-23", ShopIDs: []string{"shop-00017"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Shops) != 1 || one.Shops[0].Stages["feed"].Latest.LogStream != "stream-job-2:17" {
		t.Errorf("narrow status: %+v", one.Shops)
	}
	if _, err := ReadStatus(t.Context(), st, f, StatusInput{Run: "2026-11-23", Indexes: []int64{50}}); !errors.Is(err, manifest.ErrIndexOutOfRange) {
		t.Errorf("index 50 of 50: %v", err)
	}
}

func rerunInput(mod func(*RerunInput)) RerunInput {
	p := planInput(0)
	in := RerunInput{Run: "2026-11-23", Steps: testSteps, Target: p.Target, Engine: "local", Version: "test", Now: p.Now, Log: p.Log}
	mod(&in)
	return in
}

func TestRerunIndexesTouchesOnlyThem(t *testing.T) {
	st, f, _ := failedRun(t)
	before := len(f.submitted)
	p, err := Rerun(t.Context(), st, f, rerunInput(func(in *RerunInput) {
		in.Indexes = []int64{17, 40, 41, 42, 43, 44, 45}
		in.Stages = []string{"feed"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	sub := summarize(f)[before:]
	want := []submittedJob{{
		Name: "fb-2026-11-23-r1-feed", Def: "feedbatch-feed", Size: 7,
		Env: map[string]string{"FEEDBATCH_ROOT": "file:///data", "FEEDBATCH_MANIFEST": "runs/2026-11-23/reruns/1/manifest.parquet"},
	}}
	if diff := cmp.Diff(want, sub); diff != "" {
		t.Errorf("submitted -want +got:\n%s", diff)
	}
	rows, meta, err := manifest.ReadAll(t.Context(), st, "runs/2026-11-23/reruns/1/manifest.parquet")
	if err != nil {
		t.Fatal(err)
	}
	var origins []int64
	for _, r := range rows {
		origins = append(origins, r.OriginIndex)
		if r.OriginRun != "2026-11-23" || r.ShopID != fmt.Sprintf("shop-%05d", r.OriginIndex) {
			t.Errorf("row %+v", r)
		}
	}
	if diff := cmp.Diff([]int64{17, 40, 41, 42, 43, 44, 45}, origins); diff != "" {
		t.Errorf("subset origins -want +got:\n%s", diff)
	}
	if meta.Rerun != "1" || meta.OriginRun != "2026-11-23" {
		t.Errorf("meta %+v", meta)
	}
	if p.Record.State != StateSubmitted || p.Record.Key() != "runs/2026-11-23/reruns/1/run.json" {
		t.Errorf("record %s %s", p.Record.State, p.Record.Key())
	}

	// The re-run's children succeed: status folds them into the shops' story.
	f.finish(p.Record.Jobs[0], nil, nil)
	s, err := ReadStatus(t.Context(), st, f, StatusInput{Run: "2026-11-23"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"collect": "3", "image": "40-41"}, s.Failed); diff != "" {
		t.Errorf("failed after re-run -want +got:\n%s", diff)
	}
	c := s.Shops[17].Stages["feed"]
	if len(c.History) != 2 || c.History[0].State != "FAILED" || c.Latest.State != "SUCCEEDED" || c.Latest.Rerun != 1 || c.Latest.Index != 0 {
		t.Errorf("feed 17 story: %+v", c)
	}
	if got := s.Shops[16].Stages["feed"]; len(got.History) != 1 {
		t.Errorf("shop 16 was touched: %+v", got)
	}
}

func TestRerunFailedGroupsByFirstFailedStage(t *testing.T) {
	st, f, _ := failedRun(t)
	before := len(f.submitted)
	p, err := Rerun(t.Context(), st, f, rerunInput(func(in *RerunInput) { in.Failed = true }))
	if err != nil {
		t.Fatal(err)
	}
	wantGroups := []Group{
		{Offset: 0, Size: 1, Stages: []string{"collect", "feed", "image"}, OriginIndexes: "3"},
		{Offset: 1, Size: 1, Stages: []string{"feed"}, OriginIndexes: "17"},
		{Offset: 2, Size: 2, Stages: []string{"image"}, OriginIndexes: "40-41"},
	}
	if diff := cmp.Diff(wantGroups, p.Record.Groups); diff != "" {
		t.Errorf("groups -want +got:\n%s", diff)
	}
	e := func(kv ...string) map[string]string {
		m := map[string]string{"FEEDBATCH_ROOT": "file:///data", "FEEDBATCH_MANIFEST": "runs/2026-11-23/reruns/1/manifest.parquet"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	c := f.ids[before]
	want := []submittedJob{
		{Name: "fb-2026-11-23-r1-collect-g0", Def: "feedbatch-collect", Env: e("FEEDBATCH_INDEX", "0")},
		{Name: "fb-2026-11-23-r1-feed-g0", Def: "feedbatch-feed", Env: e("FEEDBATCH_INDEX", "0"), Depends: []string{c + "/"}},
		{Name: "fb-2026-11-23-r1-image-g0", Def: "feedbatch-image", Env: e("FEEDBATCH_INDEX", "0"), Depends: []string{c + "/"}},
		{Name: "fb-2026-11-23-r1-feed-g1", Def: "feedbatch-feed", Env: e("FEEDBATCH_INDEX", "1")},
		{Name: "fb-2026-11-23-r1-image-g2", Def: "feedbatch-image", Size: 2, Env: e("FEEDBATCH_INDEX_OFFSET", "2")},
	}
	if diff := cmp.Diff(want, summarize(f)[before:]); diff != "" {
		t.Errorf("submitted -want +got:\n%s", diff)
	}

	// A second --failed re-run claims k=2 and, with re-run 1 all green,
	// finds nothing.
	for _, j := range p.Record.Jobs {
		f.finish(j, nil, nil)
	}
	if _, err := Rerun(t.Context(), st, f, rerunInput(func(in *RerunInput) { in.Failed = true })); !errors.Is(err, ErrNothingToRun) {
		t.Fatalf("second --failed: %v, want ErrNothingToRun", err)
	}
	p2, err := Rerun(t.Context(), st, f, rerunInput(func(in *RerunInput) { in.ShopIDs = []string{"shop-00001"}; in.Stages = []string{"image"} }))
	if err != nil {
		t.Fatal(err)
	}
	if p2.Record.Rerun != 2 {
		t.Errorf("second re-run is number %d", p2.Record.Rerun)
	}
}

func TestRerunDryRunWritesNothing(t *testing.T) {
	st, f, _ := failedRun(t)
	before := len(f.submitted)
	var keys []string
	st.List(t.Context(), "", func(i store.Info) error { keys = append(keys, i.Key); return nil })
	p, err := Rerun(t.Context(), st, f, rerunInput(func(in *RerunInput) { in.Failed = true; in.DryRun = true }))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Record.Jobs) != 5 || len(p.Rows) != 4 {
		t.Errorf("dry run planned %d jobs, %d rows", len(p.Record.Jobs), len(p.Rows))
	}
	var after []string
	st.List(t.Context(), "", func(i store.Info) error { after = append(after, i.Key); return nil })
	if diff := cmp.Diff(keys, after); diff != "" || len(f.submitted) != before {
		t.Errorf("dry run wrote or submitted: %s, %d submissions", diff, len(f.submitted)-before)
	}
}

func TestRerunBadSelection(t *testing.T) {
	st, f, _ := failedRun(t)
	for name, mod := range map[string]func(*RerunInput){
		"index out of range": func(in *RerunInput) { in.Indexes = []int64{50} },
		"unknown shop":       func(in *RerunInput) { in.ShopIDs = []string{"nope"} },
		"unknown stage":      func(in *RerunInput) { in.Indexes = []int64{1}; in.Stages = []string{"bake"} },
		"nothing":            func(in *RerunInput) {},
		"unknown run":        func(in *RerunInput) { in.Run = "2020-01-01"; in.Indexes = []int64{1} },
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Rerun(t.Context(), st, f, rerunInput(mod)); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
