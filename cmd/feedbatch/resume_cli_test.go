package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/cfn"
	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/stages/all"
)

// cutSubmitter is a Batch client whose SubmitJob number cut (1-based) is
// interrupted before it leaves, as by an operator's Ctrl-C.
type cutSubmitter struct {
	*batch.Client
	cut, n int
}

func (s *cutSubmitter) SubmitJob(ctx context.Context, in *batch.SubmitJobInput, opts ...func(*batch.Options)) (*batch.SubmitJobOutput, error) {
	if s.n++; s.n == s.cut {
		return nil, context.Canceled
	}
	return s.Client.SubmitJob(ctx, in, opts...)
}

// TestInterruptedSubmissionResumes: a run and then a re-run whose
// submissions were interrupted after their first job: status says so and
// names the command; status --wait adopts the submitted jobs, submits the
// missing ones and waits (exit 4 while a shop failed, 0 after the re-run).
func TestInterruptedSubmissionResumes(t *testing.T) {
	const n, run = 6, "cut"
	dir := t.TempDir()
	root, engDir := filepath.Join(dir, "root"), filepath.Join(dir, "engine")
	registerShStages(t, engDir, run, "4")
	fakeRegistry(t, n)
	t.Setenv(envBatchEndpoint, "")
	rootURL, err := absRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	st := mustStore(t, root)
	rows, err := loadRegistry(t.Context(), "", st)
	if err != nil {
		t.Fatal(err)
	}
	target := planner.Target{Queue: cfn.QueueName, Root: rootURL}

	// The run's submission is cut after collect.
	withEngine := func(f func(api *batch.Client)) {
		eng, ep, err := local.Start(t.Context(), local.Config{Dir: engDir, QueueName: cfn.QueueName, CEName: local.DefaultCEName})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		f(local.BatchClient(ep, eng.Credentials()))
	}
	withEngine(func(api *batch.Client) {
		_, err := planner.Plan(t.Context(), st, &cutSubmitter{Client: api, cut: 2}, planner.PlanInput{
			RunID: run, Rows: rows, Steps: planner.Steps(all.Graph()), Target: target, Engine: engineLocal})
		if exitCode(err) != exitCanceled {
			t.Fatalf("cut plan: %v", err)
		}
	})
	engineArgs := []string{"--engine-dir", engDir, "--poll", "50ms"}
	_, errOut, _ := runAppOut(t, append([]string{"--root", root, "status", run, "--no-engine"}, engineArgs[:2]...)...)
	if want := "run cut: submission interrupted (1 of 3 jobs submitted); feedbatch status cut --wait submits the rest"; !strings.Contains(errOut, want) {
		t.Errorf("status does not say %q:\n%s", want, errOut)
	}
	if out, _, _ := runAppOut(t, "--root", root, "runs", "--no-engine"); !strings.Contains(out, " interrupted ") {
		t.Errorf("runs does not list the run as interrupted:\n%s", out)
	}
	out, errOut, code := runAppOut(t, append([]string{"--root", root, "status", run, "--wait"}, engineArgs...)...)
	if code != exitShopsFailed || !strings.Contains(out, "failed feed: 4") || !strings.Contains(errOut, "submission resumed") {
		t.Fatalf("status --wait exit %d, want %d:\n%s%s", code, exitShopsFailed, out, errOut)
	}
	for stage, want := range map[string][]int64{"collect": upTo(n), "feed": upTo(n, 4), "image": upTo(n)} {
		if diff := cmp.Diff(want, resultIndexes(t, root, "runs/"+run, stage)); diff != "" {
			t.Errorf("%s results -want +got:\n%s", stage, diff)
		}
	}

	// A re-run of the failed shop, cut before its one job.
	withEngine(func(api *batch.Client) {
		_, err := planner.Rerun(t.Context(), st, &cutSubmitter{Client: api, cut: 1}, planner.RerunInput{
			Run: run, Failed: true, Steps: planner.Steps(all.Graph()), Target: target, Engine: engineLocal})
		if exitCode(err) != exitCanceled {
			t.Fatalf("cut re-run: %v", err)
		}
	})
	out, errOut, code = runAppOut(t, append([]string{"--root", root, "status", run, "--wait"}, engineArgs...)...)
	if code != 0 || !strings.Contains(errOut, "re-run 1 of cut: submission resumed") {
		t.Fatalf("status --wait after the cut re-run: exit %d:\n%s%s", code, out, errOut)
	}
	if diff := cmp.Diff([]int64{0}, resultIndexes(t, root, "runs/"+run+"/reruns/1", "feed")); diff != "" {
		t.Errorf("re-run feed results -want +got:\n%s", diff)
	}
}
