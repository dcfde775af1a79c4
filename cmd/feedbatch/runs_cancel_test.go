package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/planner"
)

// TestRunsCancelFollow: while a run runs, logs --follow prints a child's
// lines as they come and ends with the child; runs lists it as running;
// cancel terminates its jobs (the run then ends with failed shops) and runs
// lists it as failed.
func TestRunsCancelFollow(t *testing.T) {
	const n, run = 3, "live"
	dir := t.TempDir()
	root, engDir := filepath.Join(dir, "root"), filepath.Join(dir, "engine")
	registerShStagesWith(t, engDir, run, "", "echo \"begin $0\"; sleep 0.8\n")
	fakeRegistry(t, n)
	t.Setenv(envBatchEndpoint, "")

	app := newApp()
	var errOut bytes.Buffer
	app.Writer, app.ErrWriter = io.Discard, &errOut
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(context.WithoutCancel(t.Context()), []string{"feedbatch", "--root", root, "run", "--run", run,
			"--engine-dir", engDir, "--register=false", "--poll", "50ms", "--vcpus", "1"})
	}()
	st := mustStore(t, root)
	for {
		rec, err := planner.ReadRecord(t.Context(), st, planner.RecordKey(run))
		if err == nil && rec.State == planner.StateSubmitted {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	engineArgs := []string{"--engine-dir", engDir}

	start := time.Now()
	out, stderr, code := runAppOut(t, append([]string{"logs", run, "--stage", "collect", "--index", "0", "--follow", "--poll", "50ms", "--root", root}, engineArgs...)...)
	if code != 0 || !strings.Contains(out, "begin collect") || !strings.Contains(out, "stage collect index 0 done") {
		t.Fatalf("logs --follow exit %d:\n%s%s", code, out, stderr)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("logs --follow returned after %s, before the child ended", d)
	}

	out, stderr, code = runAppOut(t, append([]string{"runs", "--root", root}, engineArgs...)...)
	if code != 0 || !strings.Contains(squeeze(out), "live "+time.Now().UTC().Format("2006-01-02")) || !strings.Contains(out, " running ") {
		t.Errorf("runs while running: exit %d:\n%s%s", code, out, stderr)
	}

	// One shop first: its unfinished children alone.
	out, stderr, code = runAppOut(t, append([]string{"cancel", run, "--index", "2", "--root", root}, engineArgs...)...)
	if code != 0 || !strings.Contains(out, "run live (chosen shops): terminated") {
		t.Fatalf("cancel --index 2 exit %d:\n%s%s", code, out, stderr)
	}
	out, _, _ = runAppOut(t, append([]string{"status", run, "--index", "2", "--root", root}, engineArgs...)...)
	if !strings.Contains(out, cancelReason) {
		t.Errorf("status --index 2 after cancel --index 2:\n%s", out)
	}
	out, stderr, code = runAppOut(t, append([]string{"cancel", run, "--root", root}, engineArgs...)...)
	if code != 0 || !strings.Contains(out, "terminated") {
		t.Fatalf("cancel exit %d:\n%s%s", code, out, stderr)
	}
	select {
	case err := <-done:
		if exitCode(err) != exitShopsFailed {
			t.Errorf("cancelled run: exit %d (%v)\n%s", exitCode(err), err, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not end after cancel")
	}
	out, stderr, code = runAppOut(t, append([]string{"runs", "--root", root}, engineArgs...)...)
	if code != 0 || !strings.Contains(out, " failed ") {
		t.Errorf("runs after cancel: exit %d:\n%s%s", code, out, stderr)
	}
	out, _, code = runAppOut(t, append([]string{"status", run, "--root", root}, engineArgs...)...)
	if code != exitShopsFailed || !strings.Contains(out, cancelReason) {
		t.Errorf("status after cancel: exit %d:\n%s", code, out)
	}
}
