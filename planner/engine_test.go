package planner

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// TestAgainstLocalEngine runs the planner through the SDK client against
// the local engine: a plan that died after submitting everything but
// recording only collect is resumed by job name (ListJobs JOB_NAME filter)
// without a second submission, and Wait/Summarize see the jobs finish.
func TestAgainstLocalEngine(t *testing.T) {
	eng, ep, err := local.Start(t.Context(), local.Config{Dir: t.TempDir(), VCPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	api := local.BatchClient(ep, eng.Credentials())
	for _, s := range testSteps {
		script := "true"
		if s.Name == "feed" {
			script = `[ "$AWS_BATCH_JOB_ARRAY_INDEX" != 1 ]`
		}
		if _, err := api.RegisterJobDefinition(t.Context(), &batch.RegisterJobDefinitionInput{
			JobDefinitionName: aws.String(DefaultJobDefinition(s.Name)),
			Type:              types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{
				Image:                aws.String("local"),
				Command:              []string{"sh", "-c", script},
				ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("0.5")}, {Type: types.ResourceTypeMemory, Value: aws.String("16")}},
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	st := memstore.New()
	in := planInput(3)
	rec, err := Plan(t.Context(), st, api, in)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{rec.Jobs[0].JobID, rec.Jobs[1].JobID, rec.Jobs[2].JobID}
	rec.State, rec.Jobs[1].JobID, rec.Jobs[2].JobID = StatePlanning, "", ""
	overwriteRecord(t, st, rec)
	in.Now = func() time.Time { return testNow.Add(time.Hour) }
	rec, err = Plan(t.Context(), st, api, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range rec.Jobs {
		if j.JobID != ids[i] {
			t.Errorf("resumed %s has id %s, want the first submission's %s", j.Name, j.JobID, ids[i])
		}
	}
	var parents int
	p := batch.NewListJobsPaginator(api, &batch.ListJobsInput{JobQueue: aws.String("feedbatch"), Filters: []types.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{"fb-*"}}}})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		parents += len(page.JobSummaryList)
	}
	if parents != 3 {
		t.Errorf("%d jobs in the queue, want 3", parents)
	}

	final, err := Wait(t.Context(), api, rec, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range final {
		if p.Stage == "feed" && (!p.Split || p.Failed != 1 || p.Skipped != 0) {
			t.Errorf("feed progress %+v, want 1 failed, 0 skipped, split by the engine's listing", p)
		}
	}
	sums, err := Summarize(t.Context(), api, rec, final)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][3]int64{"collect": {3, 0, 0}, "feed": {2, 1, 0}, "image": {3, 0, 0}}
	for _, s := range sums {
		if got := [3]int64{s.Succeeded, s.Failed, s.Skipped}; got != want[s.Stage] {
			t.Errorf("%s: succeeded/failed/skipped %v, want %v", s.Stage, got, want[s.Stage])
		}
	}
	s, err := ReadStatus(t.Context(), st, api, StatusInput{Run: "2026-11-23"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed["feed"] != "1" || s.EngineError != "" {
		t.Errorf("status failed %v, engine error %q", s.Failed, s.EngineError)
	}
}

// BenchmarkPlan10000 measures one daily plan of 10,000 shops (manifest
// write to memory, record writes, three submissions to a fake).
func BenchmarkPlan10000(b *testing.B) {
	in := planInput(10000)
	for b.Loop() {
		if _, err := Plan(b.Context(), memstore.New(), newFake(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadStatus10000 measures status from result records alone for
// 10,000 shops x 3 stages (30,000 records in a memory store).
func BenchmarkReadStatus10000(b *testing.B) {
	st, f := memstore.New(), newFake()
	rec, err := Plan(b.Context(), st, f, planInput(10000))
	if err != nil {
		b.Fatal(err)
	}
	for _, j := range rec.Jobs {
		for i := range j.Size {
			putResult(b, st, rec.Manifest, j.Stage, j.Offset+i)
		}
	}
	for b.Loop() {
		s, err := ReadStatus(b.Context(), st, nil, StatusInput{Run: "2026-11-23"})
		if err != nil || s.Counts["feed"]["SUCCEEDED"] != 10000 {
			b.Fatal(err, s.Counts)
		}
	}
}
