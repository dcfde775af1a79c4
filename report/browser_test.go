package report

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/store/filestore"
)

// chromium finds the browser: $FEEDBATCH_CHROMIUM, else chromium on PATH.
func chromium(t *testing.T) string {
	t.Helper()
	return testtool.Require(t, testtool.Chromium)
}

// browser starts headless Chromium with no network beyond the page's file.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("window-size", "1400,1000"),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	// Start the browser on the context that will live for the whole test.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// artifacts is where screenshots go: $FEEDBATCH_ARTIFACTS or a temp dir.
func artifacts(t *testing.T) string {
	if d := os.Getenv("FEEDBATCH_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// search types text into the search box as a person would, after clearing it.
func search(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	eval[bool](t, ctx, `(() => { const q = document.getElementById("q"); q.value = ""; q.dispatchEvent(new Event("input")); return true })()`)
	if text != "" {
		do(t, ctx, "type "+text, chromedp.SendKeys(chromedp.CSS("#q"), text))
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(png))
}

// writeFileRun writes the fixture run and its report under a directory and
// returns the report's file:// URL.
func writeFileRun(t *testing.T, n int) (dir, pageURL string) {
	t.Helper()
	ctx := t.Context()
	dir = t.TempDir()
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	fixture(t, ctx, st, n)
	// One published feed, so its link can be followed.
	if err := os.MkdirAll(filepath.Join(dir, "shops", "shop-000", "feeds"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shops", "shop-000", "feeds", "google.xml.gz"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	key, err := Write(ctx, st, testRun)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report of %d shops: %d bytes, written in %v", n, fi.Size(), time.Since(start).Round(time.Millisecond))
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, filepath.FromSlash(key)))}
	return dir, u.String()
}

// TestBrowser opens the report of a run with failures and a re-run in
// headless Chromium and checks what a person sees.
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	dir, page := writeFileRun(t, 20)
	do(t, ctx, "load the report", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))

	t.Run("stage counts", func(t *testing.T) {
		got := eval[map[string][]int](t, ctx, `Object.fromEntries([...document.querySelectorAll("#totals tbody tr")].map(tr =>
			[tr.dataset.stage, [...tr.querySelectorAll(".cnt")].map(x => Number(x.textContent))]))`)
		want := map[string][]int{}
		for stage, c := range wantCounts20 {
			want[stage] = []int{c[Succeeded], c[Failed], c[Skipped], c[Running], c[NotStarted]}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("counts in the stage table (-want +got):\n%s", diff)
		}
		if got := eval[string](t, ctx, `document.getElementById("count").textContent`); got != "20 shops" {
			t.Errorf("count line %q", got)
		}
		if got := eval[int](t, ctx, `document.querySelectorAll("#list .row").length`); got != 20 {
			t.Errorf("%d grid rows drawn, want 20", got)
		}
		if got := eval[string](t, ctx, `document.querySelector("#platforms tr[data-platform=google]").textContent`); !strings.Contains(got, "1,683") {
			t.Errorf("google row %q lacks 1,683 items published", got)
		}
	})
	screenshot(t, ctx, "report-overview.png")

	t.Run("header: what now", func(t *testing.T) {
		header := eval[string](t, ctx, `document.querySelector("header").innerText`)
		for _, want := range []string{"running", "3 of 20 shops failed", "started 2026-11-23 02:00:00 UTC", "not finished", "feedbatch rerun " + testRun + " --failed"} {
			if !strings.Contains(header, want) {
				t.Errorf("header lacks %q:\n%s", want, header)
			}
		}
		if strings.Contains(header, "state submitted") {
			t.Errorf("header says the submission's state:\n%s", header)
		}
		days := eval[[]string](t, ctx, `[document.getElementById("prev-day").href, document.getElementById("next-day").href]`)
		for i, day := range []string{"2026-11-22", "2026-11-23"} {
			if i == 1 {
				day = "2026-11-24"
			}
			if want := filepath.ToSlash(filepath.Join(dir, "runs", day, "report.html")); !strings.HasSuffix(days[i], want) {
				t.Errorf("day link %s, want one ending in %s", days[i], want)
			}
		}
		// The overview is a few short bands, not a striped block.
		if h := eval[int](t, ctx, `document.getElementById("overview").getBoundingClientRect().height`); h > 60 {
			t.Errorf("overview is %d px high", h)
		}
	})

	t.Run("reasons list every shop and re-run command; keyboard only", func(t *testing.T) {
		text := eval[string](t, ctx, `document.getElementById("reasons").innerText`)
		for _, want := range []string{"feedbatch rerun " + testRun + " --index 13 --stage collect", "feedbatch rerun " + testRun + " --index 15 --stage feed", "HTTP 503 Service Unavailable"} {
			if !strings.Contains(text, want) {
				t.Errorf("reasons lack %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "map[") || strings.Contains(text, "feed shop ") {
			t.Errorf("reasons are not for people:\n%s", text)
		}
		// Tab to the reason's "show" button and press Enter: the grid shows
		// its shops; arrows and Enter open one.
		do(t, ctx, "focus show", chromedp.Focus(chromedp.CSS(`#reasons tr[data-stage=collect] button.showidx`)))
		do(t, ctx, "enter", chromedp.KeyEvent("\r"))
		if got := eval[string](t, ctx, `document.getElementById("count").textContent`); got != "showing 1 of 20 shops" {
			t.Errorf("count after show %q", got)
		}
		if got := eval[string](t, ctx, `document.activeElement.id`); got != "list" {
			t.Errorf("focus on %q after show, want the list", got)
		}
		do(t, ctx, "clear the filter", chromedp.Focus(chromedp.CSS(`#cellfilter button`)), chromedp.KeyEvent(" "))
		if got := eval[string](t, ctx, `document.getElementById("count").textContent`); got != "20 shops" {
			t.Errorf("count after clearing %q", got)
		}
		do(t, ctx, "focus the list", chromedp.Focus(chromedp.CSS("#list")))
		do(t, ctx, "down, down, enter", chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent("\r"))
		if got := eval[string](t, ctx, `document.querySelector("#detail h3").textContent`); !strings.Contains(got, "shop-002") {
			t.Errorf("detail after down, down, enter: %q", got)
		}
		if got := eval[string](t, ctx, `document.getElementById("list").getAttribute("aria-activedescendant") + " " + document.getElementById("row-2").getAttribute("aria-selected")`); got != "row-2 true" {
			t.Errorf("active descendant, selected: %q", got)
		}
		do(t, ctx, "end", chromedp.KeyEvent(kb.End), chromedp.KeyEvent(" "))
		if got := eval[string](t, ctx, `document.querySelector("#detail h3").textContent`); !strings.Contains(got, "shop-019") {
			t.Errorf("detail after End, space: %q", got)
		}
		// The stage table's counts are buttons: Tab reaches them.
		do(t, ctx, "failed in feed", chromedp.Focus(chromedp.CSS(`#totals button[data-si="1"][data-c="f"]`)), chromedp.KeyEvent("\r"))
		if got := eval[string](t, ctx, `document.getElementById("count").textContent`); got != "showing 2 of 20 shops" {
			t.Errorf("count after failed in feed %q", got)
		}
		do(t, ctx, "clear", chromedp.Focus(chromedp.CSS(`#cellfilter button`)), chromedp.KeyEvent("\r"))
		if got := eval[string](t, ctx, `document.activeElement.id + " " + document.getElementById("count").textContent`); got != "list 20 shops" {
			t.Errorf("after clearing: focus, count %q", got)
		}
		// A fresh page for the mouse tests that follow.
		do(t, ctx, "reload", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	})

	t.Run("failed only, then a failed shop's reason and log", func(t *testing.T) {
		// Click 1: "failed only". Click 2: the shop.
		do(t, ctx, "failed only", chromedp.Click(chromedp.CSS("#failed")))
		if got := eval[string](t, ctx, `document.getElementById("count").textContent`); got != "showing 3 of 20 shops" {
			t.Errorf("count line %q", got)
		}
		ids := eval[[]string](t, ctx, `[...document.querySelectorAll("#list .row .id")].map(x => x.textContent)`)
		if diff := cmp.Diff([]string{"shop-005", "shop-013", "shop-015"}, ids); diff != "" {
			t.Errorf("failed shops (-want +got):\n%s", diff)
		}
		do(t, ctx, "open shop-013", chromedp.Click(chromedp.CSS(`#list .row[data-i="13"]`)))
		text := eval[string](t, ctx, `document.getElementById("detail").innerText`)
		for _, want := range []string{"shop-013", "collect: failed", "HTTP 503 Service Unavailable", "feedbatch logs " + testRun + " --stage collect --index 13", "feed: skipped", "not run: an upstream stage failed"} {
			if !strings.Contains(text, want) {
				t.Errorf("detail lacks %q:\n%s", want, text)
			}
		}
		// The grid cell says why, without a click.
		cell := eval[string](t, ctx, `document.querySelector('#list .row[data-i="13"] .cell[data-stage=collect]').textContent`)
		if !strings.Contains(cell, "HTTP 503") {
			t.Errorf("collect cell %q", cell)
		}
		screenshot(t, ctx, "report-failed-shop.png")
		do(t, ctx, "clear failed only", chromedp.Click(chromedp.CSS("#failed")))
	})

	t.Run("search finds a shop and shows its re-run story", func(t *testing.T) {
		search(t, ctx, "shop-005")
		ids := eval[[]string](t, ctx, `[...document.querySelectorAll("#list .row .id")].map(x => x.textContent)`)
		if diff := cmp.Diff([]string{"shop-005"}, ids); diff != "" {
			t.Errorf("search result (-want +got):\n%s", diff)
		}
		text := eval[string](t, ctx, `document.getElementById("detail").innerText`)
		for _, want := range []string{"feed: failed", "re-run 1", "is not a valid price", "drop guard", "feedbatch logs " + testRun + " --stage feed --index 5 --rerun 1", "5 (re-run row 1)"} {
			if !strings.Contains(text, want) {
				t.Errorf("detail lacks %q:\n%s", want, text)
			}
		}
		tip := eval[string](t, ctx, `document.querySelector('#list .row .cell[data-stage=feed]').title`)
		if !strings.Contains(tip, "daily run: failed") || !strings.Contains(tip, "re-run 1 (its row 1): failed") || !strings.Contains(tip, "daily index 5") {
			t.Errorf("feed tooltip lacks the history:\n%s", tip)
		}
		// By name, in Korean.
		search(t, ctx, "서울")
		if got := eval[[]string](t, ctx, `[...document.querySelectorAll("#list .row .id")].map(x => x.textContent)`); !cmp.Equal(got, []string{"shop-002"}) {
			t.Errorf("search by name: %v", got)
		}
		// The escaped name is shown as text, not run.
		search(t, ctx, "shop-001")
		if got := eval[string](t, ctx, `document.querySelector("#list .row .nm").textContent`); got != `<script>alert("x")</script> & Co` {
			t.Errorf("name shown as %q", got)
		}
	})

	t.Run("feed link resolves from file://", func(t *testing.T) {
		search(t, ctx, "shop-000")
		href := eval[string](t, ctx, `document.querySelector("#detail a.feed").href`)
		u, err := url.Parse(href)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "shops", "shop-000", "feeds", "google.xml.gz"); filepath.FromSlash(u.Path) != want {
			t.Errorf("feed link %s, want %s", href, want)
		}
	})

	t.Run("stage filter from the table and re-run in the grid", func(t *testing.T) {
		search(t, ctx, "")
		do(t, ctx, "running in image", chromedp.Click(chromedp.CSS(`#totals button[data-si="2"][data-c="r"]`)))
		ids := eval[[]string](t, ctx, `[...document.querySelectorAll("#list .row .id")].map(x => x.textContent)`)
		if diff := cmp.Diff([]string{"shop-003", "shop-007", "shop-017"}, ids); diff != "" {
			t.Errorf("running in image (-want +got):\n%s", diff)
		}
		cell := eval[string](t, ctx, `document.querySelector('#list .row[data-i="3"] .cell[data-stage=collect]').textContent`)
		if !strings.Contains(cell, "re-run 1") {
			t.Errorf("shop-003 collect cell %q does not say the re-run fixed it", cell)
		}
	})

	t.Run("link to a shop by URL", func(t *testing.T) {
		do(t, ctx, "load #shop=shop-015", chromedp.Navigate(page+"#shop=shop-015"), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
		if got := eval[string](t, ctx, `document.getElementById("detail").innerText`); !strings.Contains(got, "drop guard") {
			t.Errorf("detail for #shop=shop-015:\n%s", got)
		}
	})
}

// TestBrowserLargeRun loads a 10,000-shop report and times it; a scale
// test (FEEDBATCH_SCALE=1).
func TestBrowserLargeRun(t *testing.T) {
	testtool.Scale(t)
	ctx := browser(t)
	_, page := writeFileRun(t, 10_000)
	start := time.Now()
	do(t, ctx, "load", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	load := time.Since(start)
	rows := eval[int](t, ctx, `document.querySelectorAll("#list .row").length`)
	if rows > 100 {
		t.Errorf("%d rows in the DOM: the grid must draw only the visible rows", rows)
	}
	// The overview stays a few short bands (one per stage), not a 250 px
	// striped block, and says what a column is.
	if h := eval[int](t, ctx, `document.getElementById("overview").getBoundingClientRect().height`); h > 60 {
		t.Errorf("overview is %d px high at 10,000 shops", h)
	}
	if got := eval[string](t, ctx, `document.getElementById("ovnote").textContent`); !strings.Contains(got, "shops, failures on top") {
		t.Errorf("overview note %q", got)
	}
	// From the keyboard: failed only (space), then to the list, End, Enter.
	start = time.Now()
	do(t, ctx, "failed only", chromedp.Focus(chromedp.CSS("#failed")), chromedp.KeyEvent(" "))
	do(t, ctx, "list, end, enter", chromedp.Focus(chromedp.CSS("#list")), chromedp.KeyEvent(kb.End), chromedp.KeyEvent("\r"))
	keys := time.Since(start)
	if got := eval[string](t, ctx, `document.getElementById("count").textContent`); got != "showing 1999 of 10000 shops" {
		t.Errorf("failed only: %q", got)
	}
	if got := eval[string](t, ctx, `document.querySelector("#detail h3").textContent`); !strings.Contains(got, "shop-9995") {
		t.Errorf("the last failed shop: %q", got)
	}
	do(t, ctx, "failed only off", chromedp.Focus(chromedp.CSS("#failed")), chromedp.KeyEvent(" "))
	start = time.Now()
	search(t, ctx, "shop-9993")
	text := eval[string](t, ctx, `document.getElementById("detail").innerText`)
	search := time.Since(start)
	if !strings.Contains(text, "HTTP 503") {
		t.Errorf("shop-9993 detail:\n%s", text)
	}
	screenshot(t, ctx, "report-10k.png")
	t.Logf("10,000 shops: page loaded in %v, search typed and shown in %v, failed only + End + Enter by keyboard in %v", load.Round(time.Millisecond), search.Round(time.Millisecond), keys.Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "report 10k: load %v search %v keyboard %v\n", load.Round(time.Millisecond), search.Round(time.Millisecond), keys.Round(time.Millisecond))
}
