package local_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/engine/enginetest"
	"github.com/feedbatch/feedbatch/engine/internal/fakeclock"
	"github.com/feedbatch/feedbatch/engine/local"
)

// ignoresTerm runs until SIGKILL; it creates marker once its trap is set.
func ignoresTerm(marker string) []string {
	return sh(fmt.Sprintf(`trap "" TERM; touch '%s'; while :; do sleep 0.1; done`, marker))
}

// stillRunning fails the test if the job is not RUNNING after a moment of
// real time (what a signal it should not have got would need).
func stillRunning(c *tc, id, when string) {
	c.t.Helper()
	time.Sleep(300 * time.Millisecond)
	if j := c.get(id); j.Status != types.JobStatusRunning {
		c.t.Fatalf("%s: job %s (%q), want RUNNING", when, j.Status, aws.ToString(j.StatusReason))
	}
}

// TestTimeoutOnClock: with the AWS minimum timeout (60 s) and kill grace
// (30 s) on an injected clock, a process that ignores SIGTERM runs until
// the clock reaches its timeout plus the grace, and not a moment less; the
// test takes no such real time.
func TestTimeoutOnClock(t *testing.T) {
	clk := fakeclock.New(time.Now())
	c, _ := newTC(t, local.Config{VCPUs: 2, MemoryMiB: 1024, Clock: clk})
	marker := filepath.Join(t.TempDir(), "trapped")
	def := c.def("ignores-term", ignoresTerm(marker))
	id := c.submit(def, func(in *batch.SubmitJobInput) {
		in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(local.DefaultMinTimeoutSeconds)}
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(3)}
	})
	c.waitStatus(id, types.JobStatusRunning) // its timeout is armed
	enginetest.WaitTrapped(t, marker)
	clk.Advance(local.DefaultMinTimeoutSeconds*time.Second - time.Second)
	stillRunning(c, id, "a second before the timeout")
	clk.Advance(time.Second) // SIGTERM, ignored
	stillRunning(c, id, "within the grace")
	clk.Advance(local.DefaultKillGrace - time.Second)
	stillRunning(c, id, "a second before the grace ends")
	clk.Advance(time.Second)
	j := c.wait(id)
	if j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != "Job attempt duration exceeded timeout" {
		t.Fatalf("job %s (%q), want FAILED by its timeout", j.Status, aws.ToString(j.StatusReason))
	}
	if len(j.Attempts) != 1 {
		t.Fatalf("%d attempts, want 1 (a timeout is not retried)", len(j.Attempts))
	}
	a := j.Attempts[0]
	if got := aws.ToInt32(a.Container.ExitCode); got != 137 {
		t.Errorf("exit code %d, want 137 (SIGKILL)", got)
	}
	want := (local.DefaultMinTimeoutSeconds*time.Second + local.DefaultKillGrace).Milliseconds()
	if d := aws.ToInt64(a.StoppedAt) - aws.ToInt64(a.StartedAt); d != want {
		t.Errorf("attempt ran %d ms on the clock, want %d", d, want)
	}
}

// TestTerminateGraceOnClock: TerminateJob's SIGKILL comes after the grace
// on the injected clock.
func TestTerminateGraceOnClock(t *testing.T) {
	clk := fakeclock.New(time.Now())
	c, _ := newTC(t, local.Config{VCPUs: 2, MemoryMiB: 1024, Clock: clk})
	marker := filepath.Join(t.TempDir(), "trapped")
	id := c.submit(c.def("ignores-term", ignoresTerm(marker)))
	c.waitStatus(id, types.JobStatusRunning)
	enginetest.WaitTrapped(t, marker)
	if _, err := c.c.TerminateJob(t.Context(), &batch.TerminateJobInput{JobId: aws.String(id), Reason: aws.String("enough")}); err != nil {
		t.Fatal(err)
	}
	stillRunning(c, id, "within the grace")
	clk.Advance(local.DefaultKillGrace - time.Second)
	stillRunning(c, id, "a second before the grace ends")
	clk.Advance(time.Second)
	j := c.wait(id)
	if j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != "enough" || !aws.ToBool(j.IsTerminated) {
		t.Fatalf("job %s (%q, terminated %v), want FAILED by TerminateJob", j.Status, aws.ToString(j.StatusReason), aws.ToBool(j.IsTerminated))
	}
	if d := aws.ToInt64(j.StoppedAt) - aws.ToInt64(j.StartedAt); d != local.DefaultKillGrace.Milliseconds() {
		t.Errorf("stopped %d ms after it started on the clock, want %d", d, local.DefaultKillGrace.Milliseconds())
	}
}
