package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store/filestore"
)

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	rows := []manifest.Row{
		{Index: 0, ShopID: "a", Name: "A", OriginIndex: -1, OutputPrefix: "shops/a/"},
		{Index: 1, ShopID: "b", Name: "B", OriginIndex: -1, OutputPrefix: "shops/b/"},
	}
	if err := manifest.Save(t.Context(), st, manifest.Key("2026-11-23"), manifest.Meta{RunID: "2026-11-23", CreatedAt: time.Now()}, rows, nil); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		app := newApp()
		var out bytes.Buffer
		app.Writer, app.ErrWriter = &out, &out
		t.Setenv("FEEDBATCH_ENGINE_DIR", filepath.Join(dir, ".engine"))
		err := app.RunContext(t.Context(), append([]string{"feedbatch", "--root", dir}, args...))
		return out.String(), exitCode(err)
	}
	out, code := run("report", "2026-11-23")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	page := filepath.Join(dir, "runs", "2026-11-23", "report.html")
	if strings.TrimSpace(out) != "file://"+filepath.ToSlash(page) {
		t.Errorf("printed %q, want the page's file URL", out)
	}
	b, err := os.ReadFile(page)
	if err != nil || !bytes.Contains(b, []byte("feedbatch run 2026-11-23")) {
		t.Fatalf("page: %v", err)
	}
	if _, code := run("report", "2026-01-01"); code != exitNotFound {
		t.Errorf("missing run: exit %d, want %d", code, exitNotFound)
	}
	if _, code := run("report"); code != exitUsage {
		t.Errorf("no run: exit %d, want %d", code, exitUsage)
	}
}

// TestReportOfLocalRun: a real local run where feed fails for two shops
// (their children exit 65 and leave no result record), its report opened in
// headless Chromium, and a failed shop's reason and log found in three
// clicks; then a re-run of the failed shops folded into the refreshed report.
func TestReportOfLocalRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the local engine and a browser")
	}
	browserPath := testtool.Require(t, testtool.Chromium)
	const n, run = 30, "e2e-report"
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
	out, errOut, code = runAppOut(t, append(common, append([]string{"report", run}, engineArgs...)...)...)
	if code != exitOK {
		t.Fatalf("report exit %d\n%s%s", code, out, errOut)
	}
	page := strings.TrimSpace(out)

	// A browser that stops answering must fail the test, not hang CI.
	bctx, cancelB := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancelB()
	actx, cancelA := chromedp.NewExecAllocator(bctx,
		chromedp.ExecPath(browserPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("window-size", "1400,1000"), chromedp.UserDataDir(t.TempDir()))
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	ready := chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`))
	do("load the report", chromedp.Navigate(page), ready)
	if got := text(`document.querySelector('#totals tr[data-stage=feed]').innerText`); !strings.Contains(got, "28\t") && !strings.Contains(got, "28 ") {
		t.Errorf("feed row %q: want 28 succeeded", got)
	}
	// What now: the header says how the run ended, the reason lists both
	// shops with the command that re-runs them.
	header := text(`document.querySelector("header").innerText`)
	for _, want := range []string{"finished: failed", "2 of 30 shops failed", "started 20", "ended 20", "took ", "feedbatch rerun " + run + " --failed"} {
		if !strings.Contains(header, want) {
			t.Errorf("header lacks %q:\n%s", want, header)
		}
	}
	reasons := text(`document.getElementById("reasons").innerText`)
	for _, want := range []string{"17,23", "feedbatch rerun " + run + " --index 17,23 --stage feed", "exit code 65"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("reasons lack %q:\n%s", want, reasons)
		}
	}
	// Click 1: failed only. Click 2: the shop. The reason is on screen.
	do("failed only", chromedp.Click(chromedp.CSS("#failed")))
	if got := text(`document.getElementById("count").textContent`); got != "showing 2 of 30 shops" {
		t.Errorf("count %q", got)
	}
	do("open shop 17", chromedp.Click(chromedp.CSS(`#list .row[data-i="17"]`)))
	detail := text(`document.getElementById("detail").innerText`)
	for _, want := range []string{"shop-00017", "feed: failed", "exit code 65", "feedbatch logs " + run + " --stage feed --index 17"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, detail)
		}
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90)); err == nil {
		d := os.Getenv("FEEDBATCH_ARTIFACTS")
		if d == "" {
			d = t.TempDir()
		}
		if err := os.MkdirAll(d, 0o755); err == nil {
			p := filepath.Join(d, "report-local-run.png")
			if os.WriteFile(p, png, 0o644) == nil {
				t.Logf("screenshot: %s", p)
			}
		}
	}
	// Click 3: the log file (followed by navigating to the link's target).
	// The log is a copy under the run's own prefix, so the link works
	// wherever runs/<run>/ is copied or uploaded.
	href := text(`document.querySelector("#detail a.log[data-stage=feed]").href`)
	if want := "/root/runs/" + run + "/logs/feed/17.log"; !strings.HasSuffix(href, want) {
		t.Errorf("log link %s, want one ending in %s", href, want)
	}
	do("open the log", chromedp.Navigate(href))
	if got := text(`document.body.innerText`); !strings.Contains(got, "stage feed index 17: injected failure") {
		t.Errorf("log page %s:\n%s", href, got)
	}
	copyDir := filepath.Join(t.TempDir(), "copied")
	if err := os.CopyFS(copyDir, os.DirFS(filepath.Join(root, "runs", run))); err != nil {
		t.Fatal(err)
	}
	do("load the copied report", chromedp.Navigate("file://"+filepath.ToSlash(filepath.Join(copyDir, "report.html"))+"#shop=shop-00017"), ready)
	href = text(`document.querySelector("#detail a.log[data-stage=feed]").href`)
	do("open the copied log", chromedp.Navigate(href))
	if got := text(`document.body.innerText`); !strings.Contains(got, "stage feed index 17: injected failure") {
		t.Errorf("copied report's log %s:\n%s", href, got)
	}

	// Re-run the failed shops; the refreshed report folds it in.
	if out, errOut, code = runAppOut(t, append(common, append([]string{"rerun", run, "--failed"}, runArgs...)...)...); code != exitOK {
		t.Fatalf("rerun exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code = runAppOut(t, append(common, append([]string{"report", run}, engineArgs...)...)...); code != exitOK {
		t.Fatalf("report exit %d\n%s%s", code, out, errOut)
	}
	do("reload", chromedp.Navigate(page+"#shop=shop-00023"), chromedp.Reload(), ready)
	detail = text(`document.getElementById("detail").innerText`)
	for _, want := range []string{"feed: succeeded", "re-run 1", "exit code 65"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail after the re-run lacks %q:\n%s", want, detail)
		}
	}
	if got := text(`document.querySelector('#totals tr[data-stage=feed] [data-c=f] .cnt').textContent`); got != "0" {
		t.Errorf("feed failed after the re-run: %s", got)
	}
}
