package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/planner"
)

// TestLockOrJoinWaitsForEndpoint: a process that holds the engine lock but
// has not published its endpoint yet (its engine is starting) is waited
// for, not reported as serving no endpoint; a holder that exits without
// publishing leaves the lock to the waiter; a stale endpoint file is
// removed by the next holder.
func TestLockOrJoinWaitsForEndpoint(t *testing.T) {
	dir := t.TempDir()
	epFile := filepath.Join(dir, endpointName)

	unlock, err := lockDir(dir) // the "other process", still starting
	if err != nil {
		t.Fatal(err)
	}
	type joined struct {
		unlock func()
		ep     string
		err    error
	}
	res := make(chan joined, 1)
	go func() {
		u, ep, err := lockOrJoin(t.Context(), dir)
		res <- joined{u, ep, err}
	}()
	time.Sleep(100 * time.Millisecond)
	if err := os.WriteFile(epFile, []byte("http://127.0.0.1:1234\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		if r.err != nil || r.ep != "http://127.0.0.1:1234" || r.unlock != nil {
			t.Fatalf("join while the holder starts: ep %q, err %v", r.ep, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("lockOrJoin did not return after the endpoint appeared")
	}
	unlock()

	// The holder exits before it serves: the waiter takes the lock.
	unlock, err = lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		u, ep, err := lockOrJoin(t.Context(), dir)
		res <- joined{u, ep, err}
	}()
	time.Sleep(100 * time.Millisecond)
	unlock()
	select {
	case r := <-res:
		if r.err != nil || r.ep != "" || r.unlock == nil {
			t.Fatalf("after the holder left: ep %q, err %v", r.ep, r.err)
		}
		r.unlock()
	case <-time.After(5 * time.Second):
		t.Fatal("lockOrJoin did not take the released lock")
	}

	// An endpoint left by a killed holder is not handed out.
	if err := os.WriteFile(epFile, []byte("http://127.0.0.1:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unlock, err = lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(epFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale endpoint file kept by the new holder: %v", err)
	}
}

// TestConcurrentRunsOneOwner starts five `feedbatch run --run X` processes
// at once on one root and engine directory: one plans and runs the shops,
// the other four exit 2 "already planned" without starting an engine.
func TestConcurrentRunsOneOwner(t *testing.T) {
	testtool.Slow(t, "starts concurrent runs")
	const run, procs = "conc", 5
	dir := t.TempDir()
	root, engDir := filepath.Join(dir, "root"), filepath.Join(dir, "engine")
	registerShStages(t, engDir, run, "")

	type result struct {
		code   int
		stderr string
	}
	results := make([]result, procs)
	var wg sync.WaitGroup
	for i := range procs {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "--root", root, "--log-level", "warn",
			"run", "--run", run, "--engine-dir", engDir, "--register=false", "--poll", "50ms", "--vcpus", "2")
		cmd.Env = append(os.Environ(), envTestChild+"=app", envBatchEndpoint+"=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		wg.Go(func() {
			err := cmd.Run()
			code := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Errorf("process %d: %v", i, err)
			}
			results[i] = result{code, stderr.String()}
		})
	}
	wg.Wait()
	owners := 0
	for i, r := range results {
		switch {
		case r.code == 0:
			owners++
		case r.code == exitUsage && strings.Contains(r.stderr, "already planned") && strings.Count(strings.TrimSpace(r.stderr), "\n") == 0:
		default:
			t.Errorf("process %d: exit %d, want 0 or 2 with one line saying already planned:\n%s", i, r.code, r.stderr)
		}
	}
	if owners != 1 {
		t.Errorf("%d processes ran the run, want 1", owners)
	}
	rec, err := planner.ReadRecord(t.Context(), mustStore(t, "file://"+root), planner.RecordKey(run))
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != planner.StateSubmitted || len(rec.Jobs) != 3 {
		t.Errorf("run.json: state %s, %d jobs", rec.State, len(rec.Jobs))
	}
	for _, stage := range []string{"collect", "feed", "image"} {
		if got := resultIndexes(t, root, "runs/"+run, stage); int64(len(got)) != rec.Shops {
			t.Errorf("%s: results for %v, want all %d shops", stage, got, rec.Shops)
		}
	}
}
