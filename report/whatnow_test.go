package report

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

func render(t *testing.T, rep *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := rep.Render(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func putJSON(t *testing.T, st store.Store, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), key, bytes.NewReader(b), nil); err != nil {
		t.Fatal(err)
	}
}

// TestHeaderState: the header tells the run's state from its shops'
// stories, not run.json's "submitted": running while a child has no
// outcome, then failed (with start, end, duration and the failed shops) or
// succeeded.
func TestHeaderState(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 20)
	rep, err := Build(ctx, st, testRun, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.State != "running" || !rep.End.IsZero() || rep.Duration != 0 || rep.FailedShops != 3 || rep.Submission != "submitted" {
		t.Errorf("running run: state %q end %v duration %v failed %d submission %q", rep.State, rep.End, rep.Duration, rep.FailedShops, rep.Submission)
	}
	page := render(t, rep)
	for _, want := range []string{`id="run-state" class="state st-running">running<`, "3 of 20 shops failed", "not finished", "feedbatch rerun " + testRun + " --failed"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	// The children still running finish: the run is finished, and failed.
	mkey, rkey := manifest.Key(testRun), manifest.RerunKey(testRun, "1")
	end := t0.Add(5 * time.Hour)
	done := func(mk string, index int64, shop string) {
		putJSON(t, st, stages.ResultKey(mk, "image", index), stages.Result{Stage: "image", RunID: testRun, ManifestKey: mk, Index: index, ShopID: shop,
			Status: stages.StatusSucceeded, Attempt: 1, StartedAt: end.Add(-time.Minute), FinishedAt: end, DurationMS: 60000})
	}
	done(mkey, 7, "shop-007")
	done(mkey, 17, "shop-017")
	done(rkey, 0, "shop-003")
	if rep, err = Build(ctx, st, testRun, Options{}); err != nil {
		t.Fatal(err)
	}
	if rep.State != "failed" || !rep.Start.Equal(t0) || !rep.End.Equal(end) || rep.Duration != 5*time.Hour || rep.FailedShops != 3 {
		t.Errorf("finished run: state %q start %v end %v duration %v failed %d", rep.State, rep.Start, rep.End, rep.Duration, rep.FailedShops)
	}
	page = render(t, rep)
	for _, want := range []string{">finished: failed<", "started 2026-11-23 02:00:00 UTC", "ended 2026-11-23 07:00:00 UTC", "took 5h00m", "3 of 20 shops failed"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "state submitted") {
		t.Error(`the header still says "state submitted"`)
	}

	// A run without failures.
	st = memstore.New()
	fixture(t, ctx, st, 3)
	if rep, err = Build(ctx, st, testRun, Options{}); err != nil {
		t.Fatal(err)
	}
	page = render(t, rep)
	if rep.State != "succeeded" || rep.RerunFailed != "" || !strings.Contains(page, ">finished: succeeded<") || !strings.Contains(page, "3 shops, none failed") {
		t.Errorf("succeeded run: state %q rerun %q", rep.State, rep.RerunFailed)
	}
}

// TestReasonsListAllShops: a reason names every shop failing so, their
// daily indexes in compact form and the command that re-runs them.
func TestReasonsListAllShops(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 40)
	rep, err := Build(ctx, st, testRun, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Reason{}
	for _, r := range rep.Reasons {
		got[r.Stage+": "+r.Message] = r
	}
	want := map[string]Reason{
		"collect: fetch https://shop.example/catalog.csv: HTTP 503 Service Unavailable": {Stage: "collect", Message: "fetch https://shop.example/catalog.csv: HTTP 503 Service Unavailable",
			Shops: 3, Example: "shop-013", ShopIDs: []string{"shop-013", "shop-023", "shop-033"}, Indexes: "13,23,33",
			Command: "feedbatch rerun " + testRun + " --index 13,23,33 --stage collect"},
		"feed: drop guard: item count fell from 1000 to 98 (90%), more than 50%": {Stage: "feed", Message: "drop guard: item count fell from 1000 to 98 (90%), more than 50%",
			Shops: 3, Example: "shop-015", ShopIDs: []string{"shop-015", "shop-025", "shop-035"}, Indexes: "15,25,35",
			Command: "feedbatch rerun " + testRun + " --index 15,25,35 --stage feed"},
		`feed: google: price "12,00" is not a valid price`: {Stage: "feed", Message: `google: price "12,00" is not a valid price`,
			Shops: 1, Example: "shop-005", ShopIDs: []string{"shop-005"}, Indexes: "5", Command: "feedbatch rerun " + testRun + " --index 5 --stage feed"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	page := render(t, rep)
	for _, w := range []string{"shop-013", "shop-023", "shop-033", "13,23,33", "--index 13,23,33 --stage collect", `data-idx="15,25,35"`} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestErrorLines(t *testing.T) {
	tests := []struct {
		name  string
		stage string
		res   stages.Result
		want  []string
	}{
		{"plain", "collect", stages.Result{Error: "collect shop s1: fetch https://x/c.csv: HTTP 503 Service Unavailable"},
			[]string{"fetch https://x/c.csv: HTTP 503 Service Unavailable"}},
		{"chain cut to what and why", "feed", stages.Result{Error: "feed shop s1: feed meta: write shops/s1/feeds/meta.csv.gz: put: context deadline exceeded"},
			[]string{"meta: timed out"}},
		{"a phrase naming the cause stays", "feed", stages.Result{Error: "feed shop s1: feed naver: drop guard: item count fell from 10 to 1"},
			[]string{"naver: drop guard: item count fell from 10 to 1"}},
		{"read body", "collect", stages.Result{Error: "collect shop s1: fetch https://x/c.csv: read body: unexpected EOF"},
			[]string{"fetch https://x/c.csv: read body: the connection closed early"}},
		{"map written out", "feed", stages.Result{Error: "feed shop s1: dropped map[google/missing_price:3 meta/missing_image:2]"},
			[]string{"dropped google/missing_price 3, meta/missing_image 2"}},
		{"joined errors, one line each", "feed", stages.Result{Error: "feed shop s1: google: bad price\nmeta: bad image\n"},
			[]string{"google: bad price", "meta: bad image"}},
		{"one line per platform", "feed", stages.Result{Error: "feed shop s1: feed meta: drop guard; feed naver: map[x:1]",
			Platforms: map[string]stages.PlatformResult{
				"google": {Status: stages.PlatformPublished},
				"naver":  {Status: stages.PlatformFailed, Reason: "feed naver: render: template: map[a:1]"},
				"meta":   {Status: stages.PlatformFailed, Reason: "drop guard: item count fell from 10 to 1"},
			}},
			[]string{"meta: drop guard: item count fell from 10 to 1", "naver: a 1"}},
		{"engine reason", "image", stages.Result{Error: "Essential container in task exited (exit code 137)"},
			[]string{"Essential container in task exited (exit code 137)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := errorLines(tc.stage, "s1", tc.res)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, l := range got {
				if strings.Contains(l, "map[") || strings.Contains(l, "\n") {
					t.Errorf("line %q is not for people", l)
				}
			}
		})
	}
}

func TestNeighbours(t *testing.T) {
	p, n := neighbours("2026-03-01")
	if p != (Neighbour{"2026-02-28", "../2026-02-28/report.html"}) || n != (Neighbour{"2026-03-02", "../2026-03-02/report.html"}) {
		t.Errorf("neighbours of 2026-03-01: %+v %+v", p, n)
	}
	for _, run := range []string{"e2e-report", "2026-3-1", "2026-02-30", "2026-11-23x"} {
		if p, n := neighbours(run); p.Run != "" || n.Run != "" {
			t.Errorf("neighbours of %q: %+v %+v", run, p, n)
		}
	}
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 6)
	rep, err := Build(ctx, st, testRun, Options{})
	if err != nil {
		t.Fatal(err)
	}
	page := render(t, rep)
	for _, w := range []string{`id="prev-day" rel="prev" href="../2026-11-22/report.html"`, `id="next-day" rel="next" href="../2026-11-24/report.html"`} {
		if !strings.Contains(page, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

// TestCopyLogs: the logs of failed children are asked for once, at keys
// under the run's prefix, and the copies are linked relative to the page;
// a log not copied keeps what LogLinks gave (else the page shows only
// its `feedbatch logs` command).
func TestCopyLogs(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 20)
	var asked []FailedLog
	rep, err := Build(ctx, st, testRun, Options{
		LogLinks: func(_ context.Context, refs []LogRef) (map[LogRef]string, error) {
			m := map[LogRef]string{}
			for _, r := range refs {
				m[r] = "../../../engine/logs/" + r.JobID
			}
			return m, nil
		},
		CopyLogs: func(_ context.Context, logs []FailedLog) (map[string]bool, error) {
			asked = logs
			return map[string]bool{LogKey(testRun, "collect", 13, 0): true, LogKey(testRun, "feed", 5, 1): true}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, l := range asked {
		keys = append(keys, l.Key)
	}
	want := []string{"runs/" + testRun + "/logs/feed/5.rerun-1.log", "runs/" + testRun + "/logs/collect/13.log", "runs/" + testRun + "/logs/feed/15.log"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("logs asked for (-want +got):\n%s", diff)
	}
	if got := rep.Shops[13].History[0][0].LogHref; got != "logs/collect/13.log" {
		t.Errorf("shop 13 collect log %q", got)
	}
	if got := rep.Shops[5].History[1][1].LogHref; got != "logs/feed/5.rerun-1.log" {
		t.Errorf("shop 5 feed re-run log %q", got)
	}
	if got := rep.Shops[15].History[1][0].LogHref; got != "../../../engine/logs/job-feed:15" {
		t.Errorf("shop 15 feed log (not copied) %q, want the LogLinks link", got)
	}
}

// FuzzErrorLines: any error text becomes lines without a newline or Go's
// map syntax, at most 300 bytes and an ellipsis each, valid UTF-8 when the
// input is.
func FuzzErrorLines(f *testing.F) {
	for _, s := range []string{"feed shop s1: feed meta: write x: put: context deadline exceeded", "map[a:1 b:2]", "map[map[]]", "a\nb\n", "x: map[]: y", strings.Repeat("상점 ", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		for _, l := range errorLines("feed", "s1", stages.Result{Error: msg}) {
			if strings.Contains(l, "\n") || len(l) > 300+len("…") || l == "" {
				t.Fatalf("line %q", l)
			}
			if goMap.MatchString(l) {
				t.Fatalf("line %q keeps Go's map syntax", l)
			}
			if utf8.ValidString(msg) && !utf8.ValidString(l) {
				t.Fatalf("line %q is not valid UTF-8", l)
			}
		}
	})
}
