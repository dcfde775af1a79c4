package runs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testRun = "2026-11-23"

var t0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

var testSteps = []Step{{Name: "collect"}, {Name: "feed", After: []string{"collect"}}, {Name: "image", After: []string{"collect"}}}

// fixture writes a run of 8 shops and one re-run:
//   - collect fails for shops 3 and 6 (connection refused); feed and image of 3 and
//     6 never run (the engine knows feed 3 as "Dependent Job failed");
//   - feed of shop 5 publishes google and meta and fails naver;
//   - re-run 1 runs shop 3 again (collect, feed, image), which succeeds.
func fixture(t testing.TB, ctx context.Context, st store.Store) {
	t.Helper()
	rows := make([]manifest.Row, 8)
	for i := range rows {
		rows[i] = manifest.Row{
			Index: int64(i), ShopID: fmt.Sprintf("shop-%d", i), Name: fmt.Sprintf("Shop %d", i),
			Source:    manifest.Source{URL: fmt.Sprintf("https://shop%d.example/catalog.csv", i)},
			Platforms: []string{"google", "meta", "naver"}, Currency: "KRW", Country: "KR",
			Image: manifest.DefaultImageSpec, OutputPrefix: fmt.Sprintf("shops/shop-%d/", i), OriginIndex: -1,
		}
	}
	mkey := manifest.Key(testRun)
	if err := manifest.Save(ctx, st, mkey, manifest.Meta{RunID: testRun, CreatedAt: t0}, rows, nil); err != nil {
		t.Fatal(err)
	}
	put := func(key string, b []byte) {
		t.Helper()
		if err := st.Put(ctx, key, bytes.NewReader(b), nil); err != nil {
			t.Fatal(err)
		}
	}
	putRecord := func(r *Record) {
		t.Helper()
		b, err := EncodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		put(r.Key(), b)
	}
	putRecord(&Record{RunID: testRun, State: StateSubmitted, Engine: "local", Manifest: mkey, Shops: 8, CreatedAt: t0,
		Groups: []Group{{Offset: 0, Size: 8, Stages: []string{"collect", "feed", "image"}}},
		Jobs: []Job{
			{Stage: "collect", Offset: 0, Size: 8, Name: "r-collect", JobID: "arr-collect"},
			{Stage: "feed", Offset: 0, Size: 8, Name: "r-feed", JobID: "arr-feed", DependsOn: []string{"r-collect"}},
			{Stage: "image", Offset: 0, Size: 8, Name: "r-image", JobID: "arr-image", DependsOn: []string{"r-collect"}},
		}})
	result := func(mkey, stage string, row manifest.Row, index int64, start time.Time, errMsg string) {
		t.Helper()
		r := stages.Result{Stage: stage, RunID: testRun, ManifestKey: mkey, Index: index, OriginIndex: row.OriginIndex,
			ShopID: row.ShopID, Status: stages.StatusSucceeded, Attempt: 1, StartedAt: start,
			FinishedAt: start.Add(time.Second), DurationMS: 1000}
		if errMsg != "" {
			r.Status, r.Error = stages.StatusFailed, stage+" shop "+row.ShopID+": "+errMsg
		}
		if stage == "feed" {
			r.Platforms = map[string]stages.PlatformResult{}
			for _, p := range row.Platforms {
				r.Platforms[p] = stages.PlatformResult{Status: stages.PlatformPublished, Items: 10}
			}
			if row.ShopID == "shop-5" {
				r.Platforms["naver"] = stages.PlatformResult{Status: stages.PlatformFailed, Items: 1, Reason: guardErr}
			}
		}
		put(stages.ResultKey(mkey, stage, index), mustJSON(t, r))
	}
	for i, row := range rows {
		start := t0.Add(time.Duration(i) * time.Minute)
		if i == 3 || i == 6 {
			result(mkey, "collect", row, row.Index, start, `source https://x.example/catalog.csv: Get "https://x.example/catalog.csv": dial tcp 10.0.0.1:443: connect: connection refused (after 3 attempts)`)
			continue
		}
		result(mkey, "collect", row, row.Index, start, "")
		feedErr := ""
		if i == 5 {
			feedErr = "feed naver: " + guardErr
		}
		result(mkey, "feed", row, row.Index, start.Add(time.Minute), feedErr)
		result(mkey, "image", row, row.Index, start.Add(time.Minute), "")
	}
	rr := []manifest.Row{rows[3]}
	rr[0].OriginRun, rr[0].OriginIndex, rr[0].Index = testRun, 3, 0
	rkey := manifest.RerunKey(testRun, "1")
	if err := manifest.Save(ctx, st, rkey, manifest.Meta{RunID: testRun, Rerun: "1", OriginRun: testRun, CreatedAt: t0.Add(time.Hour)}, rr, nil); err != nil {
		t.Fatal(err)
	}
	putRecord(&Record{RunID: testRun, Rerun: 1, OriginRun: testRun, State: StateSubmitted, Engine: "local", Manifest: rkey, Shops: 1,
		CreatedAt: t0.Add(time.Hour),
		Groups:    []Group{{Offset: 0, Size: 1, Stages: []string{"collect", "feed", "image"}, OriginIndexes: "3"}},
		Jobs: []Job{
			{Stage: "collect", Offset: 0, Size: 1, Name: "rr-collect", JobID: "rr-collect"},
			{Stage: "feed", Offset: 0, Size: 1, Name: "rr-feed", JobID: "rr-feed", DependsOn: []string{"rr-collect"}},
			{Stage: "image", Offset: 0, Size: 1, Name: "rr-image", JobID: "rr-image", DependsOn: []string{"rr-collect"}},
		}})
	rs := t0.Add(time.Hour)
	result(rkey, "collect", rr[0], 0, rs, "")
	result(rkey, "feed", rr[0], 0, rs.Add(time.Minute), "")
	result(rkey, "image", rr[0], 0, rs.Add(time.Minute), "")
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeEngine answers per parent job id; a job it lacks is an error.
type fakeEngine map[string][]Child

func (f fakeEngine) Children(_ context.Context, j Job, idx []int64) ([]Child, error) {
	c, ok := f[j.JobID]
	if !ok {
		return nil, errors.New("engine down")
	}
	if idx == nil {
		return c, nil
	}
	var out []Child
	for _, ch := range c {
		for _, i := range idx {
			if ch.Index == i {
				out = append(out, ch)
			}
		}
	}
	return out, nil
}

var testEngine = fakeEngine{
	"arr-collect": nil, "arr-image": nil, "rr-collect": nil, "rr-feed": nil, "rr-image": nil,
	"arr-feed": {{Index: 3, Status: BatchFailed, Reason: ReasonDependentFailed, JobID: "arr-feed:3"}},
}

func states(m *Model) map[string][]State {
	out := map[string][]State{}
	for _, sh := range m.Shops {
		for _, s := range sh.Stories {
			out[s.Stage] = append(out[s.Stage], s.State)
		}
	}
	return out
}

func TestLoad(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st)
	m, err := Load(ctx, st, testRun, Options{Engine: testEngine})
	if err != nil {
		t.Fatal(err)
	}
	S, F, K := Succeeded, Failed, Skipped
	want := map[string][]State{
		"collect": {S, S, S, S, S, S, F, S},
		"feed":    {S, S, S, S, S, F, K, S},
		"image":   {S, S, S, S, S, S, K, S},
	}
	if diff := cmp.Diff(want, states(m)); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	// The graph came from run.json's jobs.
	if diff := cmp.Diff(testSteps, m.Steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	// Shop 3's feed: the engine's skip, then the re-run's success.
	h := m.Shops[3].Stories[1].History
	if len(h) != 2 || h[0].State != Skipped || h[0].Engine == nil || h[1].Rerun != 1 || h[1].State != Succeeded || h[1].JobID != "rr-feed" {
		t.Errorf("shop 3 feed history: %+v", h)
	}
	// Records without a job id get run.json's.
	if got := m.Shops[1].Stories[0].History[0].JobID; got != "arr-collect:1" {
		t.Errorf("job id %q, want arr-collect:1", got)
	}
	if len(m.Reruns) != 1 || m.Reruns[0].Shops != 1 || m.EngineError != "" {
		t.Errorf("reruns %+v engine error %q", m.Reruns, m.EngineError)
	}

	// Narrow: one shop, its records only.
	n, err := Load(ctx, st, testRun, Options{ShopIDs: []string{"shop-3"}, Steps: testSteps})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Shops) != 1 || n.Shops[0].Index != 3 || len(n.Shops[0].Stories[0].History) != 2 || n.Shops[0].Stories[1].State != Succeeded {
		t.Errorf("narrow model: %+v", n.Shops)
	}

	// The engine down: records alone, and the error said.
	m, err = Load(ctx, st, testRun, Options{Engine: fakeEngine{}})
	if err != nil || m.EngineError == "" {
		t.Fatalf("engine down: %v, engine error %q", err, m.EngineError)
	}
	if diff := cmp.Diff(want, states(m)); diff != "" {
		t.Errorf("states without the engine (-want +got):\n%s", diff)
	}

	if _, err := Load(ctx, st, "a/b", Options{}); !errors.Is(err, ErrInvalidRun) {
		t.Errorf("bad run id: %v", err)
	}
	if _, err := Load(ctx, st, "2026-01-01", Options{RequireRecord: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing run: %v", err)
	}
	if _, err := Load(ctx, st, testRun, Options{Indexes: []int64{8}}); !errors.Is(err, manifest.ErrIndexOutOfRange) {
		t.Errorf("index out of range: %v", err)
	}
}

// TestWaiting: a story with no finished attempt is pending while its
// upstream runs, skipped when the upstream failed, running otherwise.
func TestWaiting(t *testing.T) {
	a := func(s State) []Attempt { return []Attempt{{State: s, Engine: &Child{}}} }
	sh := Shop{Stories: []Story{{Stage: "collect", History: a(Running)}, {Stage: "feed"}, {Stage: "image"}}}
	foldShop(testSteps, &sh)
	if got := sh.Stories[1]; got.State != Pending || !got.Waiting {
		t.Errorf("feed behind a running collect: %+v", got)
	}
	sh = Shop{Stories: []Story{{Stage: "collect", History: a(Cancelled)}, {Stage: "feed"}, {Stage: "image", History: a(Pending)}}}
	foldShop(testSteps, &sh)
	if sh.Stories[1].State != Skipped || sh.Stories[2].State != Skipped {
		t.Errorf("behind a cancelled collect: %+v", sh.Stories)
	}
	sh = Shop{Stories: []Story{{Stage: "collect", History: a(Succeeded)}, {Stage: "feed", History: a(Pending)}, {Stage: "image"}}}
	foldShop(testSteps, &sh)
	if sh.Stories[1].State != Pending || sh.Stories[1].Waiting || sh.Stories[2].State != Running {
		t.Errorf("after collect: %+v", sh.Stories)
	}
}

func TestFromBatch(t *testing.T) {
	for _, tc := range []struct {
		status, reason string
		want           State
	}{
		{"SUCCEEDED", "", Succeeded},
		{"FAILED", "Essential container in task exited", Failed},
		{"FAILED", "Dependent Job failed", Skipped},
		{"FAILED", "Cancelled by operator", Cancelled},
		{"RUNNABLE", "", Pending},
		{"STARTING", "", Running},
		{"", "", Unknown},
		{"WHAT", "", Unknown},
	} {
		if got := FromBatch(tc.status, tc.reason); got != tc.want {
			t.Errorf("FromBatch(%q, %q) = %s, want %s", tc.status, tc.reason, got, tc.want)
		}
	}
}

func TestSummaryGolden(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st)
	m, err := Load(ctx, st, testRun, Options{Engine: testEngine, Now: func() time.Time { return t0.Add(2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	s := BuildSummary(m)
	got, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "summary.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (regenerate with go test ./runs -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	// The figures the golden file holds, said once more in code.
	if s.FailedShops != 2 || s.RerunCommand != "feedbatch rerun "+testRun+" --failed" || !s.Finished {
		t.Errorf("failed shops %d, command %q, finished %v", s.FailedShops, s.RerunCommand, s.Finished)
	}
	naver := s.Feeds[len(s.Feeds)-1]
	if naver.Platform != "naver" || naver.Published != 6 || naver.Failed != 1 || naver.FailedIndexes != "5" {
		t.Errorf("naver: %+v", naver)
	}
}

// guardErr is the feed stage's drop guard error, as it writes it.
const guardErr = "feed: item count fell past the guard: 1 items, 10 in shops/shop-5/feeds/naver.meta.json: fell 90.0% > feed.max_drop_share 50.0%; " +
	"previous feed kept (re-run with --force to publish)"

// countingStore counts reads per key and listings.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	gets  map[string]int
	lists int
}

func (c *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	c.mu.Lock()
	c.gets[key]++
	c.mu.Unlock()
	return c.Store.Get(ctx, key)
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.Store.List(ctx, prefix, fn)
}

// TestLoadReadsOnce: a full model lists the run once and reads each
// result record and run.json once.
func TestLoadReadsOnce(t *testing.T) {
	ctx := t.Context()
	mem := memstore.New()
	fixture(t, ctx, mem)
	st := &countingStore{Store: mem, gets: map[string]int{}}
	if _, err := Load(ctx, st, testRun, Options{Engine: testEngine, Concurrency: 4}); err != nil {
		t.Fatal(err)
	}
	if st.lists != 1 {
		t.Errorf("%d listings, want 1", st.lists)
	}
	results := 0
	for k, n := range st.gets {
		if n != 1 && !strings.HasSuffix(k, ".parquet") {
			t.Errorf("%s read %d times", k, n)
		}
		if strings.Contains(k, "/results/") {
			results++
		}
	}
	// 8 collect, 6 feed, 6 image; 3 in the re-run.
	if results != 23 {
		t.Errorf("%d result records read, want 23", results)
	}
}
