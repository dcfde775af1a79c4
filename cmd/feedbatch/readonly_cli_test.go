package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/stages"
)

// TestLookingCreatesNothing: commands that only look never create a
// directory: a mistyped --root is "not found" (exit 3), not a new empty
// root or engine directory.
func TestLookingCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "typo")
	for _, args := range [][]string{
		{"status", "2026-12-01"},
		{"logs", "2026-12-01", "--stage", "feed", "--index", "0"},
		{"report", "2026-12-01"},
		{"manifest", "show", "2026-12-01"},
		{"rerun", "2026-12-01", "--failed", "--dry-run"},
	} {
		t.Run(args[0], func(t *testing.T) {
			_, stderr, code := runAppOut(t, append([]string{"--root", root}, args...)...)
			if code != exitNotFound || !strings.Contains(stderr, "does not exist") {
				t.Errorf("exit %d, want %d and 'does not exist':\n%s", code, exitNotFound, stderr)
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 0 {
				t.Fatalf("%s created %v", args[0], ents)
			}
		})
	}
}

// TestReasonText: a person asking for one shop reads the whole reason
// (the drop guard's advice is at its end), without AWS's generic exit
// prefix; a listing of every shop keeps lines short.
func TestReasonText(t *testing.T) {
	long := "feed google: feed: item count fell past the guard: 98 items, 1000 in shops/s1/feeds/google.meta.json: " +
		"fell 90.2% > feed.max_drop_share 50.0%; previous feed kept (re-run with --force to publish)"
	human := "google: item count fell past the guard: 98 items, 1000 in shops/s1/feeds/google.meta.json: " +
		"fell 90.2% > feed.max_drop_share 50.0%; previous feed kept (re-run with --force to publish)"
	for _, tc := range []struct {
		name string
		o    planner.Outcome
		full bool
		want string
	}{
		{"full, child error", planner.Outcome{State: "FAILED", Reason: "Essential container in task exited", Error: "feed shop s1: " + long}, true, human},
		{"listing cuts", planner.Outcome{State: "FAILED", Reason: "Essential container in task exited", Error: long}, false, human[:117] + "..."},
		{"prefixed reason", planner.Outcome{State: "FAILED", Reason: "Essential container in task exited: OutOfMemoryError: killed"}, true, "OutOfMemoryError: killed"},
		{"engine reason alone", planner.Outcome{State: "FAILED", Reason: "Dependent Job failed"}, true, "Dependent Job failed"},
		{"host lost and error", planner.Outcome{State: "FAILED", Reason: "Host EC2 (instance local) terminated.", Error: "x"}, true, "Host EC2 (instance local) terminated.; x"},
		{"success", planner.Outcome{State: "SUCCEEDED", Reason: "Essential container in task exited"}, true, ""},
		{"per platform", planner.Outcome{State: "FAILED", Error: "feed shop s1: feed naver: render: template: map[a:1]", Platforms: map[string]stages.PlatformResult{
			"google": {Status: stages.PlatformPublished}, "naver": {Status: stages.PlatformFailed, Reason: "render: template: map[a:1]"}}}, true, "naver: a 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reasonText(tc.o, "feed", "s1", tc.full); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
