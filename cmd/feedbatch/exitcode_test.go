package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/registry"
)

// TestUsageSentinels: the packages' sentinels for a command line asking
// for what cannot be are exit 2 however deeply wrapped, mapped by exitCode
// alone: no command file wraps an error into a usage error after checking
// it (only app.go's flag handling and exitcode.go build usageError values).
func TestUsageSentinels(t *testing.T) {
	for _, err := range []error{manifest.ErrIndexOutOfRange, planner.ErrNothingToRun, planner.ErrRunExists, planner.ErrRunBusy, planner.ErrBadRunID, registry.ErrInvalid} {
		if got := exitCode(fmt.Errorf("cmd: %w", fmt.Errorf("layer: %w", err))); got != exitUsage {
			t.Errorf("%v: exit %d, want %d", err, got, exitUsage)
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f == "app.go" || f == "exitcode.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "usageError{") {
			t.Errorf("%s maps an error to an exit status itself (usageError{...}); add its sentinel to exitcode.go", f)
		}
	}
}

// TestGitignoreKeepsTheCloneClean: the README's first command writes
// ./feedbatch-data and the engine directory beside it; git ignores both.
func TestGitignoreKeepsTheCloneClean(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := engineDirFor("file:///x/feedbatch-data")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/feedbatch-data/", "/" + filepath.Base(dir) + "/"} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf(".gitignore lacks %s", want)
		}
	}
}
