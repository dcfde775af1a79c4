package local_test

import (
	"bytes"
	"os"
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
)

// crashCopy copies an engine directory's state files as a crash would
// leave them (the engine that wrote them keeps running in this process).
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	crash := t.TempDir()
	for _, name := range []string{"jobs.journal", "jobdefs.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crash, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return crash
}

// TestReadOnlyLooksOnly: an engine opened ReadOnly on the state an
// interrupted engine left describes its jobs as the journal has them
// (RUNNING stays RUNNING), refuses every change, and leaves the directory
// byte for byte as it was, however often it is opened; the next read-write
// open settles the lost attempt exactly once.
func TestReadOnlyLooksOnly(t *testing.T) {
	dir := t.TempDir()
	c, _ := newTC(t, local.Config{Dir: dir, VCPUs: 4, MemoryMiB: 1024, KillGrace: time.Second})
	c.def("sleeper", sh("sleep 600"))
	c.def("later", sh("true"))
	id := c.submit("sleeper")
	c.waitStatus(id, types.JobStatusRunning)
	waiting := c.submit("later", func(in *batch.SubmitJobInput) { in.DependsOn = []types.JobDependency{{JobId: aws.String(id)}} })
	c.waitStatus(waiting, types.JobStatusPending)
	crash := crashCopy(t, dir)
	before := snapshot(t, crash)

	for range 3 {
		eng, ep, err := local.Start(t.Context(), local.Config{Dir: crash, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		api := local.BatchClient(ep, eng.Credentials())
		out, err := api.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: []string{id, waiting}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Jobs) != 2 || out.Jobs[0].Status != types.JobStatusRunning || out.Jobs[1].Status != types.JobStatusPending {
			t.Fatalf("read-only describe: %+v", out.Jobs)
		}
		if _, err := api.SubmitJob(t.Context(), &batch.SubmitJobInput{JobName: aws.String("x"), JobQueue: aws.String("feedbatch"), JobDefinition: aws.String("later")}); !isClientException(err) || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("read-only SubmitJob: %v, want a read-only ClientException", err)
		}
		if _, err := api.TerminateJob(t.Context(), &batch.TerminateJobInput{JobId: aws.String(id), Reason: aws.String("x")}); !isClientException(err) {
			t.Errorf("read-only TerminateJob: %v", err)
		}
		if _, err := api.RegisterJobDefinition(t.Context(), &batch.RegisterJobDefinitionInput{JobDefinitionName: aws.String("y"), Type: types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{Image: aws.String("x"), Command: sh("true")}}); !isClientException(err) {
			t.Errorf("read-only RegisterJobDefinition: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // a scheduler, if any, would act now
		if err := eng.Close(); err != nil {
			t.Fatal(err)
		}
		if after := snapshot(t, crash); after != before {
			t.Fatalf("a read-only open changed the directory:\nbefore %s\nafter  %s", before, after)
		}
	}

	// The explicit resume settles the lost attempt once and runs the rest.
	c2, _ := newTC(t, local.Config{Dir: crash, VCPUs: 4, MemoryMiB: 1024})
	j := c2.get(id)
	if j.Status != types.JobStatusFailed || len(j.Attempts) != 1 || aws.ToString(j.StatusReason) != "Host EC2 (instance local) terminated." {
		t.Errorf("after resume: %s %q, %d attempts", j.Status, aws.ToString(j.StatusReason), len(j.Attempts))
	}
}

// TestReadOnlyMissingDir: inspecting an engine directory that does not
// exist shows no jobs and creates nothing.
func TestReadOnlyMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	eng, ep, err := local.Start(t.Context(), local.Config{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	out, err := local.BatchClient(ep, eng.Credentials()).ListJobs(t.Context(), &batch.ListJobsInput{JobQueue: aws.String("feedbatch")})
	if err != nil || len(out.JobSummaryList) != 0 {
		t.Fatalf("list: %v %+v", err, out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("read-only open created %s (%v)", dir, err)
	}
}

// snapshot is every file of dir with its content, in one string.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + "\n")
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.Write(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestCrashKillsOrphan: a process that an engine left running (the engine
// crashed, the process survived) is killed, with its process group, before
// the new engine settles its job, so no attempt runs twice at once.
func TestCrashKillsOrphan(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "pid")
	c, _ := newTC(t, local.Config{Dir: dir, VCPUs: 4, MemoryMiB: 1024, KillGrace: time.Second})
	// The process starts a grandchild in its group that records its pid.
	c.def("sleeper", sh(`sleep 600 & echo $! > `+pidFile+`; wait`), func(in *batch.RegisterJobDefinitionInput) {
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(2), EvaluateOnExit: []types.EvaluateOnExit{
			{Action: types.RetryActionRetry, OnStatusReason: aws.String("Host EC2*")},
			{Action: types.RetryActionExit, OnReason: aws.String("*")},
		}}
	})
	id := c.submit("sleeper")
	c.waitStatus(id, types.JobStatusRunning)
	var grandchild int
	for deadline := time.Now().Add(10 * time.Second); grandchild == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(pidFile)
		grandchild, _ = strconv.Atoi(string(bytes.TrimSpace(b)))
	}
	if grandchild == 0 {
		t.Fatal("the job never started its grandchild")
	}
	crash := crashCopy(t, dir)
	os.Remove(pidFile)
	c2, _ := newTC(t, local.Config{Dir: crash, VCPUs: 4, MemoryMiB: 1024})
	if err := syscall.Kill(grandchild, 0); err == nil {
		// A zombie until its parent reaps it counts as gone.
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(grandchild) + "/stat"); !bytes.Contains(b, []byte(") Z ")) {
			t.Errorf("the orphaned process group (pid %d) still runs after the restart", grandchild)
		}
	}
	j := c2.waitFor(id, func(j types.JobDetail) bool { return len(j.Attempts) >= 2 })
	if j.Attempts[0].StatusReason == nil || *j.Attempts[0].StatusReason != "Host EC2 (instance local) terminated." {
		t.Errorf("first attempt: %+v", j.Attempts[0])
	}
}

// TestCleanEnvironment: a child sees its job's environment, the AWS_BATCH_*
// variables and the pass-through list, not the operator's shell.
func TestCleanEnvironment(t *testing.T) {
	t.Setenv("FEEDBATCH_INDEX", "0")
	t.Setenv("FEEDBATCH_FORCE", "1")
	t.Setenv("SOME_SECRET", "x")
	t.Setenv("EXTRA_PASSED", "yes")
	t.Setenv("FEEDBATCH_SECRET_SHOP_KEY", "k")
	c, _ := newTC(t, local.Config{VCPUs: 4, MemoryMiB: 1024, PassEnv: []string{"EXTRA_PASSED"}})
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	c.def("env", sh(`[ -z "${FEEDBATCH_INDEX+x}" ] && [ -z "${FEEDBATCH_FORCE+x}" ] && [ -z "${SOME_SECRET+x}" ] &&
		[ "$EXTRA_PASSED" = yes ] && [ "$FEEDBATCH_SECRET_SHOP_KEY" = k ] && [ "$TMPDIR" = `+tmp+` ] && [ -n "$PATH" ] && [ "$JOB_VAR" = v ] && [ -n "$AWS_BATCH_JOB_ID" ]`),
		func(in *batch.RegisterJobDefinitionInput) {
			in.ContainerProperties.Environment = []types.KeyValuePair{{Name: aws.String("JOB_VAR"), Value: aws.String("v")}}
		})
	if j := c.wait(c.submit("env")); j.Status != types.JobStatusSucceeded {
		t.Errorf("environment check: %s exit %v", j.Status, exitCode(j))
	}
}
