package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportOfLocalRunNoBrowser: the page `feedbatch report` writes after a
// local run whose failing children leave no result record (exit 65) holds
// their engine state, exit code and log link, read with the result records
// in one pass; a re-run of the failed shops is folded in. (The browser test
// TestReportOfLocalRun clicks through the same page where Chromium is.)
func TestReportOfLocalRunNoBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the local engine")
	}
	const n, run = 30, "e2e-report-model"
	dir := t.TempDir()
	root, engDir := filepath.Join(dir, "root"), filepath.Join(dir, "engine")
	registerShStages(t, engDir, run, "17,23")
	fakeRegistry(t, n)
	t.Setenv(envBatchEndpoint, "")
	common := []string{"--root", root}
	engineArgs := []string{"--engine", "local", "--engine-dir", engDir}
	runArgs := append(append([]string{}, engineArgs...), "--register=false", "--poll", "50ms")

	out, errOut, code := runAppOut(t, append(common, append([]string{"run", "--run", run}, runArgs...)...)...)
	if code != exitShopsFailed {
		t.Fatalf("run exit %d, want %d\n%s%s", code, exitShopsFailed, out, errOut)
	}
	page := func() string {
		t.Helper()
		out, errOut, code := runAppOut(t, append(common, append([]string{"report", run}, engineArgs...)...)...)
		if code != exitOK {
			t.Fatalf("report exit %d\n%s%s", code, out, errOut)
		}
		b, err := os.ReadFile(filepath.Join(root, "runs", run, "report.html"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	p := page()
	for _, want := range []string{`"g":"FAILED"`, "exit code 65", `"l":"logs/feed/17.log"`} {
		if !strings.Contains(p, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The page's commands work as printed: the reason's re-run (dry) and
	// the failed child's logs, whose copy sits under the run's prefix.
	if !strings.Contains(p, "feedbatch rerun "+run+" --index 17,23 --stage feed") {
		t.Error("page lacks the reason's re-run command")
	}
	if out, errOut, code := runAppOut(t, append(common, append([]string{"rerun", run, "--index", "17,23", "--stage", "feed", "--dry-run"}, engineArgs...)...)...); code != exitOK || !strings.Contains(out, "17,23") {
		t.Errorf("the reason's re-run command (--dry-run): exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runAppOut(t, append(common, append([]string{"logs", run, "--stage", "feed", "--index", "17"}, engineArgs...)...)...); code != exitOK || !strings.Contains(out, "injected failure") {
		t.Errorf("logs: exit %d\n%s%s", code, out, errOut)
	}
	if b, err := os.ReadFile(filepath.Join(root, "runs", run, "logs", "feed", "17.log")); err != nil || !strings.Contains(string(b), "stage feed index 17: injected failure") {
		t.Errorf("copied log: %v %q", err, b)
	}
	if out, errOut, code = runAppOut(t, append(common, append([]string{"rerun", run, "--failed"}, runArgs...)...)...); code != exitOK {
		t.Fatalf("rerun exit %d\n%s%s", code, out, errOut)
	}
	if p = page(); !strings.Contains(p, `"r":1`) {
		t.Error("the re-run is not folded into the page")
	}
	// status agrees: nothing failed after the re-run.
	if out, errOut, code = runAppOut(t, append(common, append([]string{"status", run}, engineArgs...)...)...); code != exitOK || strings.Contains(out, "failed feed") {
		t.Errorf("status after the re-run: exit %d\n%s%s", code, out, errOut)
	}
}
