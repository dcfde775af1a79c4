package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

func counts(rep *Report) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, t := range rep.Totals {
		out[t.Stage] = t.Counts
	}
	return out
}

// wantCounts20 are the outcomes of fixture(20) (see its comment).
var wantCounts20 = map[string]map[string]int{
	"collect": {Succeeded: 19, Failed: 1},
	"feed":    {Succeeded: 17, Failed: 2, Skipped: 1},
	"image":   {Succeeded: 16, Skipped: 1, Running: 3},
}

func TestBuild(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 20)
	rep, err := Build(ctx, st, testRun, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCounts20, counts(rep)); diff != "" {
		t.Errorf("outcome counts (-want +got):\n%s", diff)
	}
	if rep.Failed != 3 || len(rep.Reruns) != 1 || rep.Engine != "local" || rep.Version != "v1.2.3" {
		t.Errorf("failed %d reruns %d engine %q version %q", rep.Failed, len(rep.Reruns), rep.Engine, rep.Version)
	}
	if diff := cmp.Diff([]string{"collect", "feed", "image"}, rep.Reruns[0].Stages); diff != "" {
		t.Errorf("re-run stages (-want +got):\n%s", diff)
	}

	tests := []struct {
		shop      int
		states    []string
		histories []int // attempts per stage
		lastErr   string
		feeds     int
	}{
		{0, []string{Succeeded, Succeeded, Succeeded}, []int{1, 1, 1}, "", 2},
		{3, []string{Succeeded, Succeeded, Running}, []int{2, 1, 1}, "", 2}, // re-run fixed it; image submitted in re-run
		{5, []string{Succeeded, Failed, Succeeded}, []int{1, 2, 2}, "is not a valid price", 0},
		{7, []string{Succeeded, Succeeded, Running}, []int{1, 1, 0}, "", 2},
		{13, []string{Failed, Skipped, Skipped}, []int{1, 0, 0}, "HTTP 503", 0},
	}
	for _, tc := range tests {
		s := rep.Shops[tc.shop]
		t.Run(s.ID, func(t *testing.T) {
			if diff := cmp.Diff(tc.states, s.States); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
			var got []int
			for _, h := range s.History {
				got = append(got, len(h))
			}
			if diff := cmp.Diff(tc.histories, got); diff != "" {
				t.Errorf("attempts per stage (-want +got):\n%s", diff)
			}
			if tc.lastErr != "" {
				found := false
				for _, h := range s.History {
					if n := len(h); n > 0 && strings.Contains(h[n-1].Result.Error, tc.lastErr) {
						found = true
					}
				}
				if !found {
					t.Errorf("no latest error containing %q", tc.lastErr)
				}
			}
			if len(s.Feeds) != tc.feeds {
				t.Errorf("feeds %v, want %d", s.Feeds, tc.feeds)
			}
		})
	}
	// Job ids missing from records come from run.json.
	for _, c := range []struct {
		shop, stage, attempt int
		want                 string
	}{
		{4, 0, 0, "arr-collect:4"},
		{8, 2, 0, "arr-image:8"},
		{1, 0, 0, "job-collect:1"},
		{3, 0, 1, "single-collect-0"},
		{3, 1, 0, "rr-feed:0"},
	} {
		if got := rep.Shops[c.shop].History[c.stage][c.attempt].Result.JobID; got != c.want {
			t.Errorf("shop %d stage %d attempt %d: job id %q, want %q", c.shop, c.stage, c.attempt, got, c.want)
		}
	}
	// Re-run attempts come after the origin's.
	if h := rep.Shops[5].History[1]; h[0].Rerun != 0 || h[1].Rerun != 1 || h[1].Index != 1 {
		t.Errorf("shop 5 feed history order: %+v", h)
	}

	// Feed per platform: 17 shops published on each; drops from the latest
	// feed result of every shop that has one (19).
	wantPlat := []PlatformTotals{
		{Platform: "google", Shops: 17, Published: 17 * 99, Dropped: 19, Reasons: []Count{{"missing_price", 19}}},
		{Platform: "meta", Shops: 17, Published: 17 * 98, Dropped: 38, Reasons: []Count{{"missing_image", 38}}},
	}
	if diff := cmp.Diff(wantPlat, rep.Platforms); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
	wantReasons := []Reason{
		{Stage: "collect", Message: "fetch https://shop.example/catalog.csv: HTTP 503 Service Unavailable", Shops: 1, Example: "shop-013",
			ShopIDs: []string{"shop-013"}, Indexes: "13", Command: "feedbatch rerun " + testRun + " --index 13 --stage collect"},
		{Stage: "feed", Message: "drop guard: item count fell from 1000 to 98 (90%), more than 50%", Shops: 1, Example: "shop-015",
			ShopIDs: []string{"shop-015"}, Indexes: "15", Command: "feedbatch rerun " + testRun + " --index 15 --stage feed"},
		{Stage: "feed", Message: `google: price "12,00" is not a valid price`, Shops: 1, Example: "shop-005",
			ShopIDs: []string{"shop-005"}, Indexes: "5", Command: "feedbatch rerun " + testRun + " --index 5 --stage feed"},
	}
	if diff := cmp.Diff(wantReasons, rep.Reasons); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	if tot := rep.Totals[0]; tot.Finished != 20 || tot.Retried != 1 || tot.P50 == 0 || tot.Max < tot.P95 || tot.P95 < tot.P50 {
		t.Errorf("collect totals %+v", tot)
	}
}

func TestWriteAndEscaping(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 20)
	key, err := WriteWith(ctx, st, testRun, Options{LogHref: func(r stages.Result) string {
		if r.ShopID == "shop-000" {
			return "javascript:alert(1)"
		}
		return "../../logs/" + r.JobID + ".log"
	}})
	if err != nil {
		t.Fatal(err)
	}
	if key != "runs/"+testRun+"/report.html" {
		t.Fatalf("key %q", key)
	}
	rc, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	page := string(b)
	for _, bad := range []string{`<script>alert`, `javascript:alert`, "http://", "https://cdn", "<link ", "src=\""} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"feedbatch run " + testRun, "../../shops/shop-000/feeds/google.xml.gz", "서울 상점", `\u003cscript\u003e`, "../../logs/job-collect:1.log"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if c := strings.Count(page, "<script"); c != 2 {
		t.Errorf("%d script elements, want 2 (data and code)", c)
	}
	// Writing again refreshes the same key.
	if _, err := Write(ctx, st, testRun); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	for _, run := range []string{"", "a/b", "..", "x\x00"} {
		if _, err := Write(ctx, st, run); err == nil {
			t.Errorf("run %q: no error", run)
		}
	}
	if _, err := Write(ctx, st, "2026-01-01"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing run: %v, want ErrNotFound", err)
	}
	// A broken result record is skipped, not fatal.
	fixture(t, ctx, st, 6)
	if err := st.Put(ctx, "runs/"+testRun+"/results/feed/0.json", bytes.NewReader([]byte("{")), nil); err != nil {
		t.Fatal(err)
	}
	rep, err := Build(ctx, st, testRun, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Shops[0].States[1]; got != Running {
		t.Errorf("shop 0 feed with an unreadable record: %s, want %s", got, Running)
	}
}

func TestReasonText(t *testing.T) {
	tests := []struct{ msg, want string }{
		{"feed shop s1: drop guard on s1", "drop guard on <shop>"},
		{"", "(no error message)"},
		{"other: x", "other: x"},
	}
	for _, tc := range tests {
		if got := reasonText(tc.msg, "feed", "s1"); got != tc.want {
			t.Errorf("reasonText(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	if got := fmtNum(int64(1234567)); got != "1,234,567" {
		t.Errorf("fmtNum = %q", got)
	}
	if got := fmtNum(-1000); got != "-1,000" {
		t.Errorf("fmtNum = %q", got)
	}
	if got := relFromReport("shops/a b/feeds/google.xml.gz"); got != "../../shops/a%20b/feeds/google.xml.gz" {
		t.Errorf("relFromReport = %q", got)
	}
}

// BenchmarkWrite10k measures building and writing the report of a
// 10,000-shop run (30,000 result records) from an in-memory store.
func BenchmarkWrite10k(b *testing.B) {
	ctx := b.Context()
	st := memstore.New()
	fixture(b, ctx, st, 10_000)
	var size int64
	for b.Loop() {
		key, err := Write(ctx, st, testRun)
		if err != nil {
			b.Fatal(err)
		}
		info, err := st.Stat(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		size = info.Size
	}
	b.ReportMetric(float64(size), "page-bytes")
}

func TestLogLinks(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 6)
	var calls, n int
	rep, err := Build(ctx, st, testRun, Options{LogLinks: func(_ context.Context, refs []LogRef) (map[LogRef]string, error) {
		calls++
		n = len(refs)
		m := map[LogRef]string{}
		for _, r := range refs {
			m[r] = "../../.engine/logs/" + r.JobID
		}
		m[LogRef{"arr-collect:0", 1}] = "data:text/html,x"
		return m, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	// 6 collect + 5 feed + 5 image + 4 in the re-run.
	if calls != 1 || n != 20 {
		t.Errorf("LogLinks called %d times with %d refs, want once with 20", calls, n)
	}
	if got := rep.Shops[1].History[0][0].LogHref; got != "../../.engine/logs/job-collect:1" {
		t.Errorf("link %q", got)
	}
	if got := rep.Shops[0].History[0][0].LogHref; got != "" {
		t.Errorf("unsafe link kept: %q", got)
	}
	// A failing source leaves the page without links.
	rep, err = Build(ctx, st, testRun, Options{LogLinks: func(context.Context, []LogRef) (map[LogRef]string, error) {
		return nil, errors.New("engine down")
	}})
	if err != nil || rep.Shops[1].History[0][0].LogHref != "" {
		t.Errorf("failing LogLinks: %v %q", err, rep.Shops[1].History[0][0].LogHref)
	}
}

// TestChildStates: children that left no result record get their outcome
// from the engine.
func TestChildStates(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 20)
	exit137 := int32(137)
	eng := fakeEngine{
		"arr-image": {
			{Index: 7, Status: "FAILED", Reason: "Job attempt duration exceeded timeout", ExitCode: &exit137, JobID: "arr-image:7", Attempts: 1},
			{Index: 17, Status: "RUNNABLE", JobID: "arr-image:17"},
		},
		"arr-feed":         {{Index: 13, Status: "FAILED", Reason: "Dependent Job failed"}},
		"arr-collect":      {{Index: 0, Status: "SUCCEEDED", JobID: "arr-collect:0", Attempts: 1}}, // has a record
		"rr-image":         {{Index: 0, Status: "RUNNING", JobID: "rr-image", Attempts: 1}},
		"single-collect-0": nil, "rr-feed": nil,
	}
	var refs []LogRef
	rep, err := Build(ctx, st, testRun, Options{
		Engine: eng,
		LogLinks: func(_ context.Context, r []LogRef) (map[LogRef]string, error) {
			refs = r
			return map[LogRef]string{{"arr-image:7", 1}: "../../.engine/logs/x"}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int{
		"collect": {Succeeded: 19, Failed: 1},
		"feed":    {Succeeded: 17, Failed: 2, Skipped: 1},
		"image":   {Succeeded: 16, Failed: 1, Skipped: 1, Running: 2},
	}
	if diff := cmp.Diff(want, counts(rep)); diff != "" {
		t.Errorf("outcome counts (-want +got):\n%s", diff)
	}
	a := rep.Shops[7].History[2][0]
	if a.Engine != "FAILED" || a.Result.Error != "Job attempt duration exceeded timeout (exit code 137)" || a.LogHref != "../../.engine/logs/x" {
		t.Errorf("shop 7 image: %+v", a)
	}
	if h := rep.Shops[3].History[2]; len(h) != 1 || !h[0].Pending || h[0].Engine != "RUNNING" || h[0].Result.JobID != "rr-image" {
		t.Errorf("shop 3 image (re-run running): %+v", h)
	}
	found := false
	for _, r := range refs {
		found = found || r == LogRef{"arr-image:7", 1}
	}
	if !found {
		t.Errorf("the engine-only failure's log was not asked for: %v", refs)
	}
	// A failing engine leaves the records alone.
	rep, err = Build(ctx, st, testRun, Options{Engine: fakeEngine{"arr-collect": nil}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCounts20, counts(rep)); diff != "" {
		t.Errorf("counts with the engine down (-want +got):\n%s", diff)
	}
}

// fakeEngine answers for the jobs it has (by job id) and fails for any
// other.
type fakeEngine map[string][]runs.Child

func (f fakeEngine) Children(_ context.Context, j runs.Job, _ []int64) ([]runs.Child, error) {
	c, ok := f[j.JobID]
	if !ok {
		return nil, errors.New("engine down")
	}
	return c, nil
}

// TestPartlyPublished: a feed child that published google but failed meta
// counts as published on google and not published on meta, and its feed
// is linked.
func TestPartlyPublished(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 20)
	r := stages.Result{Stage: "feed", RunID: testRun, ManifestKey: "runs/" + testRun + "/manifest.parquet", Index: 0, ShopID: "shop-000",
		Status: stages.StatusFailed, Attempt: 1, Error: "feed shop shop-000: feed meta: drop guard",
		Outputs: []string{"shops/shop-000/feeds/google.xml.gz", "shops/shop-000/feeds/google.meta.json"},
		Platforms: map[string]stages.PlatformResult{
			"google": {Status: stages.PlatformPublished, Items: 99},
			"meta":   {Status: stages.PlatformFailed, Items: 3, Reason: "drop guard"},
		}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, stages.ResultKey(r.ManifestKey, "feed", 0), bytes.NewReader(b), nil); err != nil {
		t.Fatal(err)
	}
	rep, err := Build(ctx, st, testRun, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, p := range rep.Platforms {
		got[p.Platform] = [2]int{p.Shops, p.Failed}
	}
	if diff := cmp.Diff(map[string][2]int{"google": {17, 0}, "meta": {16, 1}}, got); diff != "" {
		t.Errorf("shops published, not published (-want +got):\n%s", diff)
	}
	if s := rep.Shops[0]; s.States[1] != Failed || len(s.Feeds) != 1 {
		t.Errorf("shop 0: states %v feeds %v", s.States, s.Feeds)
	}
}

// TestWriteModel: the page of a model read once is the page Write makes.
func TestWriteModel(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 20)
	now := func() time.Time { return t0 }
	key, err := WriteWith(ctx, st, testRun, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want := readAll(t, st, key)
	m, err := runs.Load(ctx, st, testRun, runs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteModel(ctx, st, m, Options{Now: now}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, st, key); got != want {
		t.Error("WriteModel's page differs from WriteWith's")
	}
}

func readAll(t *testing.T, st store.Store, key string) string {
	t.Helper()
	rc, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
