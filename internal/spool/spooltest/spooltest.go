// Package spooltest checks that a process killed with SIGKILL mid-work
// leaves no file in its TMPDIR.
package spooltest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	envHelper = "FEEDBATCH_SPOOLTEST_HELPER"
	readyLine = "spooltest: ready"
)

// IsHelper reports whether this test process was started by
// KillLeavesNothing to run the helper test.
func IsHelper() bool { return os.Getenv(envHelper) == "1" }

// Ready tells KillLeavesNothing that the helper holds its spool files, and
// blocks until the helper is killed.
func Ready() {
	fmt.Println(readyLine)
	select {}
}

// KillLeavesNothing runs the test binary's test named helper in a child
// process whose TMPDIR is a new empty directory; once the helper calls
// Ready, it kills the child with SIGKILL and fails t if the directory holds
// anything. env is added to the child's environment. The helper must do
// nothing unless IsHelper.
func KillLeavesNothing(t *testing.T, helper string, env ...string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$", "-test.v")
	cmd.Env = append(append(os.Environ(), envHelper+"=1", "TMPDIR="+dir), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	var seen strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == readyLine {
				ready <- true
				return
			}
			seen.WriteString(sc.Text() + "\n")
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("helper %s ended without being ready:\n%s", helper, seen.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper %s not ready after 60 s", helper)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var size int64
		if fi, err := e.Info(); err == nil {
			size = fi.Size()
		}
		t.Errorf("left in TMPDIR after SIGKILL: %s (%d bytes)", e.Name(), size)
	}
}
