package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/internal/testtool"
)

// buildBinary builds feedbatch into a temporary directory (once per test).
func buildBinary(t *testing.T) string {
	t.Helper()
	return testtool.Feedbatch(t, "")
}

// TestKillNineThenStatus: `kill -9` of `feedbatch run` while children run
// takes its children with it (no process left); `status` three times
// changes nothing in the engine's journal; `status --wait` resumes and
// settles every shop exactly once (one lost attempt, then one run).
func TestKillNineThenStatus(t *testing.T) {
	const run = "kill9"
	bin := buildBinary(t)
	dir := t.TempDir()
	root, engDir, pids := filepath.Join(dir, "root"), filepath.Join(dir, "engine"), filepath.Join(dir, "pids")
	// Each child records its pid; collect children then take a while.
	registerShStagesWith(t, engDir, run, "", `echo $$ >> `+pids+`; [ "$0" = collect ] && [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && exec sleep 30
`)
	registry, err := filepath.Abs("../../examples/shops.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "--root", root, "run", "--run", run, "--registry", registry,
		"--engine-dir", engDir, "--register=false", "--poll", "50ms", "--vcpus", "2")
	cmd.Env = append(os.Environ(), envBatchEndpoint+"=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once every stage is submitted and two collect children run.
	var children []int
	submitted := func() bool {
		var rec struct{ State string }
		b, _ := os.ReadFile(filepath.Join(root, "runs", run, "run.json"))
		return json.Unmarshal(b, &rec) == nil && rec.State == "submitted"
	}
	for deadline := time.Now().Add(60 * time.Second); len(children) < 2 || !submitted(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no children started")
		}
		children = readPids(pids)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for _, pid := range children {
		deadline := time.Now().Add(5 * time.Second)
		for processRuns(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if processRuns(pid) {
			t.Errorf("child %d outlived kill -9 of its engine", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}

	journal := filepath.Join(engDir, "jobs.journal")
	before, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		out, stderr, code := runAppOut(t, "--root", root, "status", run, "--engine-dir", engDir)
		if code != 0 || !strings.Contains(out, "RUNNING") {
			t.Errorf("status after kill -9: exit %d, want the interrupted jobs as RUNNING:\n%s%s", code, out, stderr)
		}
		if after, _ := os.ReadFile(journal); string(after) != string(before) {
			t.Fatal("status changed the engine's journal")
		}
	}
	if _, err := os.Stat(filepath.Join(engDir, "feedbatch.lock")); err == nil {
		// The lock file of the killed run may stay; status must not have
		// started an engine: the endpoint file is the sign of one.
		if _, err := os.Stat(filepath.Join(engDir, endpointName)); err == nil && runningEndpoint(engDir) != "" {
			t.Error("an engine answers after status")
		}
	}

	out, stderr, code := runAppOut(t, "--root", root, "status", run, "--wait", "--engine-dir", engDir, "--poll", "50ms", "--vcpus", "2")
	if code != 0 {
		t.Fatalf("status --wait: exit %d\n%s%s", code, out, stderr)
	}
	for _, stage := range []string{"collect", "feed", "image"} {
		if got := resultIndexes(t, root, "runs/"+run, stage); len(got) != 5 {
			t.Errorf("%s results: %v, want 5", stage, got)
		}
	}
	// Every collect child: at most one lost attempt, then one success.
	eng, ep, err := local.Start(t.Context(), local.Config{Dir: engDir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	api := local.BatchClient(ep, eng.Credentials())
	lj, err := api.ListJobs(t.Context(), &batch.ListJobsInput{JobQueue: aws.String("feedbatch"), Filters: []types.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{"fb-" + run + "-collect*"}}}})
	if err != nil || len(lj.JobSummaryList) != 1 {
		t.Fatalf("collect job: %v %+v", err, lj)
	}
	kids, err := api.ListJobs(t.Context(), &batch.ListJobsInput{ArrayJobId: lj.JobSummaryList[0].JobId, JobStatus: types.JobStatusSucceeded})
	if err != nil || len(kids.JobSummaryList) != 5 {
		t.Fatalf("collect children succeeded: %v %d", err, len(kids.JobSummaryList))
	}
	var ids []string
	for _, k := range kids.JobSummaryList {
		ids = append(ids, aws.ToString(k.JobId))
	}
	d, err := api.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: ids})
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, j := range d.Jobs {
		for i, a := range j.Attempts {
			last := i == len(j.Attempts)-1
			switch reason := aws.ToString(a.StatusReason); {
			case !last && reason == "Host EC2 (instance local) terminated.":
				lost++
			case last && a.Container != nil && aws.ToInt32(a.Container.ExitCode) == 0:
			default:
				t.Errorf("%s attempt %d: %q exit %v", aws.ToString(j.JobId), i+1, reason, a.Container)
			}
		}
	}
	if lost < 2 {
		t.Errorf("%d lost attempts settled, want one per child killed (>= 2)", lost)
	}
}

func readPids(path string) []int {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// processRuns says whether pid is a live (not zombie) process.
func processRuns(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}
