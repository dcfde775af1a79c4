package finalize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/notify"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/report"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

const run = "2026-11-23"

var t0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

// fixture writes a daily run of 6 shops: collect fails for shop 3 (feed and
// image skipped), feed fails for shop 5; every other child succeeded.
func fixture(t *testing.T, st store.Store) {
	t.Helper()
	ctx := t.Context()
	rows := make([]manifest.Row, 6)
	for i := range rows {
		rows[i] = manifest.Row{
			Index: int64(i), ShopID: fmt.Sprintf("shop-%d", i), Name: fmt.Sprintf("Shop %d", i),
			Source:    manifest.Source{URL: fmt.Sprintf("https://shop%d.example/c.csv", i)},
			Platforms: []string{"google"}, Currency: "EUR", Country: "DE",
			Image: manifest.DefaultImageSpec, OutputPrefix: fmt.Sprintf("shops/shop-%d/", i), OriginIndex: -1,
		}
	}
	mkey := manifest.Key(run)
	if err := manifest.Save(ctx, st, mkey, manifest.Meta{RunID: run, CreatedAt: t0}, rows, nil); err != nil {
		t.Fatal(err)
	}
	rec := &planner.Record{
		RunID: run, State: planner.StateSubmitted, Engine: "local", Manifest: mkey, Shops: 6, CreatedAt: t0,
		Groups: []planner.Group{{Offset: 0, Size: 6, Stages: []string{"collect", "feed", "image"}}},
		Jobs: []planner.Job{
			{Stage: "collect", Size: 6, Name: "fb-" + run + "-collect", JobID: "c"},
			{Stage: "feed", Size: 6, Name: "fb-" + run + "-feed", JobID: "f"},
			{Stage: "image", Size: 6, Name: "fb-" + run + "-image", JobID: "i"},
		},
	}
	putJSON(t, st, planner.RecordKey(run), rec)
	for i, row := range rows {
		start := t0.Add(time.Duration(i) * time.Minute)
		res := func(stage string, ok bool, msg string) stages.Result {
			r := stages.Result{
				Stage: stage, RunID: run, ManifestKey: mkey, Index: row.Index, OriginIndex: -1, ShopID: row.ShopID,
				Status: stages.StatusSucceeded, Attempt: 1, StartedAt: start, FinishedAt: start.Add(time.Minute), DurationMS: 60000,
			}
			if !ok {
				r.Status, r.Error = stages.StatusFailed, stage+" shop "+row.ShopID+": "+msg
			}
			if stage == "feed" && ok {
				r.Outputs = []string{row.OutputPrefix + "feeds/google.xml.gz"}
			}
			return r
		}
		putJSON(t, st, stages.ResultKey(mkey, "collect", row.Index), res("collect", i != 3, "fetch: HTTP 503"))
		if i == 3 {
			continue
		}
		putJSON(t, st, stages.ResultKey(mkey, "feed", row.Index), res("feed", i != 5, "drop guard: item count fell by 90%"))
		putJSON(t, st, stages.ResultKey(mkey, "image", row.Index), res("image", true, ""))
	}
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

// recorder counts and keeps the messages it is sent; fail makes the next
// fail sends fail.
type recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
	fail int
}

func (r *recorder) Send(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("webhook down")
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// newFinalizer finalizes st's runs with the real report and its summary;
// finished says what the engine would answer.
func newFinalizer(st store.Store, finished *atomic.Bool, n notify.Sender) *Finalizer {
	return &Finalizer{
		Store: st,
		Finished: func(context.Context, *planner.Record) (bool, error) {
			return finished.Load(), nil
		},
		WriteReport: func(ctx context.Context, run string) (string, error) { return report.Write(ctx, st, run) },
		Summarize: func(ctx context.Context, run string) (*Summary, error) {
			m, err := runs.Load(ctx, st, run, runs.Options{Steps: runs.Steps(all.Graph())})
			if err != nil {
				return nil, err
			}
			return &Summary{Summary: runs.BuildSummary(m)}, nil
		},
		Notify:    n,
		ReportURL: func(key string) string { return "https://reports.example/" + key },
		Now:       func() time.Time { return t0.Add(5 * time.Hour) },
	}
}

func readSummary(t *testing.T, st store.Store) *Summary {
	t.Helper()
	rc, err := st.Get(t.Context(), runs.SummaryKey(run))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var s Summary
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestRunNotifiesOnce(t *testing.T) {
	st := memstore.New()
	fixture(t, st)
	var finished atomic.Bool
	finished.Store(true)
	rec := &recorder{}
	f := newFinalizer(st, &finished, rec)

	// Duplicate events: twice in a row, then eight at once.
	for range 2 {
		if _, err := f.Run(t.Context(), Input{Run: run, IfFinished: true}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := f.Run(t.Context(), Input{Run: run, IfFinished: true}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := rec.count(); n != 1 {
		t.Fatalf("%d notifications, want 1", n)
	}

	s := readSummary(t, st)
	want := []runs.StageSummary{
		{Stage: "collect", Succeeded: 5, Failed: 1, FailedIndexes: "3"},
		{Stage: "feed", Succeeded: 4, Failed: 1, Skipped: 1, FailedIndexes: "5", SkippedIndexes: "3"},
		{Stage: "image", Succeeded: 5, Skipped: 1, SkippedIndexes: "3"},
	}
	if diff := cmp.Diff(want, s.Stages); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	if !s.Finished || s.Shops != 6 || s.FailedShops != 2 || s.Report != report.Key(run) {
		t.Errorf("summary %+v", s)
	}
	if s.RerunCommand != "feedbatch rerun "+run+" --failed" {
		t.Errorf("rerun command %q", s.RerunCommand)
	}
	// Shop 5 started at +5 min and finished its last stage at +6 min.
	if s.DurationS != (6 * time.Minute).Seconds() {
		t.Errorf("duration %v s", s.DurationS)
	}
	if len(s.Reasons) != 2 || s.Reasons[0].Shops != 1 {
		t.Errorf("reasons %+v", s.Reasons)
	}

	m := rec.msgs[0]
	txt := m.Text()
	for _, w := range []string{"2 of 6 shops failed", "collect: 5 succeeded, 1 failed, 0 skipped (failed indexes 3)",
		"fetch: HTTP 503", "https://reports.example/runs/" + run + "/report.html", "feedbatch rerun " + run + " --failed"} {
		if !strings.Contains(txt, w) {
			t.Errorf("message lacks %q:\n%s", w, txt)
		}
	}
	if _, err := st.Stat(t.Context(), NotifiedKey(run, 0)); err != nil {
		t.Errorf("claim: %v", err)
	}
}

func TestIfFinished(t *testing.T) {
	st := memstore.New()
	fixture(t, st)
	var finished atomic.Bool
	rec := &recorder{}
	f := newFinalizer(st, &finished, rec)
	_, err := f.Run(t.Context(), Input{Run: run, IfFinished: true})
	if !errors.Is(err, ErrNotFinished) {
		t.Fatalf("err = %v, want ErrNotFinished", err)
	}
	if _, err := st.Stat(t.Context(), runs.SummaryKey(run)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("summary written for an unfinished run (%v)", err)
	}
	// Without IfFinished: report and summary as they stand, nobody told.
	out, err := f.Run(t.Context(), Input{Run: run})
	if err != nil || out.Finished || out.Notified {
		t.Fatalf("Run: %+v, %v", out, err)
	}
	if s := readSummary(t, st); s.Finished {
		t.Fatal("summary says finished")
	}
	if rec.count() != 0 {
		t.Fatal("notified about an unfinished run")
	}
	// No run.json: not found.
	if _, err := f.Run(t.Context(), Input{Run: "2026-01-01"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
}

func TestSendFailureReleasesClaim(t *testing.T) {
	st := memstore.New()
	fixture(t, st)
	var finished atomic.Bool
	finished.Store(true)
	rec := &recorder{fail: 1}
	f := newFinalizer(st, &finished, rec)
	if _, err := f.Run(t.Context(), Input{Run: run}); err == nil || !strings.Contains(err.Error(), "webhook down") {
		t.Fatalf("err = %v", err)
	}
	if _, err := st.Stat(t.Context(), NotifiedKey(run, 0)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim kept after a failed send (%v)", err)
	}
	out, err := f.Run(t.Context(), Input{Run: run})
	if err != nil || !out.Notified || rec.count() != 1 {
		t.Fatalf("second try: %+v %v, %d sent", out, err, rec.count())
	}
}

func TestRerunFinalizesToo(t *testing.T) {
	st := memstore.New()
	fixture(t, st)
	var finished atomic.Bool
	finished.Store(true)
	rec := &recorder{}
	f := newFinalizer(st, &finished, rec)
	if _, err := f.Run(t.Context(), Input{Run: run}); err != nil {
		t.Fatal(err)
	}
	putJSON(t, st, planner.RerunRecordKey(run, 1), &planner.Record{RunID: run, Rerun: 1, OriginRun: run, State: planner.StateSubmitted})
	for range 2 {
		if _, err := f.Run(t.Context(), Input{Run: run, Rerun: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if rec.count() != 2 || rec.msgs[1].Rerun != 1 {
		t.Fatalf("%d messages (%+v), want the run's and re-run 1's", rec.count(), rec.msgs)
	}
	if !strings.HasPrefix(rec.msgs[1].Subject(), "feedbatch re-run 1 of "+run) {
		t.Errorf("subject %q", rec.msgs[1].Subject())
	}
	if s := readSummary(t, st); s.Rerun != 1 {
		t.Errorf("summary rerun %d", s.Rerun)
	}
}

func TestLate(t *testing.T) {
	st := memstore.New()
	fixture(t, st)
	var finished atomic.Bool
	rec := &recorder{}
	f := newFinalizer(st, &finished, rec)
	for range 2 {
		if _, err := f.Late(t.Context(), run); err != nil {
			t.Fatal(err)
		}
	}
	if rec.count() != 1 || !rec.msgs[0].Late {
		t.Fatalf("%d late messages, want 1", rec.count())
	}
	if !strings.Contains(rec.msgs[0].Text(), "LATE") {
		t.Errorf("late text:\n%s", rec.msgs[0].Text())
	}

	// A finished run is not late.
	st2 := memstore.New()
	fixture(t, st2)
	finished.Store(true)
	rec2 := &recorder{}
	out, err := newFinalizer(st2, &finished, rec2).Late(t.Context(), run)
	if err != nil || !out.Finished || rec2.count() != 0 {
		t.Fatalf("finished run: %+v %v, %d sent", out, err, rec2.count())
	}

	// A run that was never planned is late.
	rec3 := &recorder{}
	if _, err := newFinalizer(memstore.New(), &finished, rec3).Late(t.Context(), "2026-12-01"); err != nil {
		t.Fatal(err)
	}
	if rec3.count() != 1 || !strings.Contains(rec3.msgs[0].Note, "never planned") {
		t.Fatalf("unplanned run: %+v", rec3.msgs)
	}
}

// TestClaimOnS3 runs the duplicate events against a real S3 API server: the
// claim is S3's conditional write (If-None-Match: *).
func TestClaimOnS3(t *testing.T) {
	st := s3test.NewStore(t)
	fixture(t, st)
	var finished atomic.Bool
	finished.Store(true)
	rec := &recorder{}
	f := newFinalizer(st, &finished, rec)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if _, err := f.Run(t.Context(), Input{Run: run, IfFinished: true}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := rec.count(); n != 1 {
		t.Fatalf("%d notifications, want 1", n)
	}
	rc, err := st.Get(t.Context(), NotifiedKey(run, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !json.Valid(b) {
		t.Fatalf("claim %q", b)
	}
}
