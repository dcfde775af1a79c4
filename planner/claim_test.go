package planner

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/filestore"
)

// clock is a settable clock shared by planners.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// pause stops a planner once at a chosen point until the test resumes it.
type pause struct {
	reached, resume chan struct{}
	once            sync.Once
}

func newPause() *pause { return &pause{reached: make(chan struct{}), resume: make(chan struct{})} }

func (p *pause) hit() {
	p.once.Do(func() {
		close(p.reached)
		<-p.resume
	})
}

func (p *pause) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-p.reached:
	case <-time.After(5 * time.Second):
		t.Fatalf("planner A never reached %s", what)
	}
}

// pausingBatch pauses in the look-up of one job name, after the answer was
// made (a reply in flight while the process is stopped).
type pausingBatch struct {
	*fakeBatch
	name string
	p    *pause
}

func (b *pausingBatch) ListJobs(ctx context.Context, in *batch.ListJobsInput, opts ...func(*batch.Options)) (*batch.ListJobsOutput, error) {
	out, err := b.fakeBatch.ListJobs(ctx, in, opts...)
	if len(in.Filters) > 0 && in.Filters[0].Values[0] == b.name {
		b.p.hit()
	}
	return out, err
}

// pausingStore pauses before writing one key.
type pausingStore struct {
	store.Store
	key string
	p   *pause
}

func (s *pausingStore) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) error {
	if key == s.key {
		s.p.hit()
	}
	return s.Store.Put(ctx, key, r, opts)
}

func openFileStore(t *testing.T, dir string) store.Store {
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// storePairs give two handles on one store, for two planners: separate
// file store handles on one directory (as two processes), and the real S3
// server of internal/s3test.
var storePairs = []struct {
	name string
	open func(t *testing.T) (a, b store.Store)
}{
	{"file", func(t *testing.T) (store.Store, store.Store) {
		dir := t.TempDir()
		return openFileStore(t, dir), openFileStore(t, dir)
	}},
	{"s3", func(t *testing.T) (store.Store, store.Store) {
		st := s3test.NewStore(t)
		return st, st
	}},
}

func objectState(t *testing.T, st store.Store, key string) (string, []byte) {
	t.Helper()
	info, err := st.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return info.ETag, b
}

// checkOwnedRecord checks that run.json is planner B's finished record and
// names exactly the jobs that were submitted.
func checkOwnedRecord(t *testing.T, st store.Store, f *fakeBatch, b *Record, shops int64) {
	t.Helper()
	rec, err := ReadRecord(t.Context(), st, RecordKey("2026-11-23"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range rec.Jobs {
		ids = append(ids, j.JobID)
		if j.Size != shops {
			t.Errorf("job %s has size %d, want %d", j.Name, j.Size, shops)
		}
	}
	if rec.State != StateSubmitted || rec.Owner != b.Owner || rec.Shops != shops {
		t.Errorf("run.json: state %s owner %s shops %d; want submitted by %s with %d shops", rec.State, rec.Owner, rec.Shops, b.Owner, shops)
	}
	if diff := cmp.Diff(f.ids, ids); diff != "" {
		t.Errorf("run.json job ids vs submitted jobs (-submitted +recorded):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"fb-2026-11-23-collect", "fb-2026-11-23-feed", "fb-2026-11-23-image"}, names(f)); diff != "" {
		t.Errorf("submissions (-want +got):\n%s", diff)
	}
}

func checkLost(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrClaimLost) {
		t.Fatalf("stale planner: err = %v, want ErrClaimLost", err)
	}
	t.Logf("stale planner: %v", err)
	if msg := err.Error(); !strings.Contains(msg, "took over") || !strings.Contains(msg, "lease") || strings.Contains(msg, "\n") {
		t.Errorf("stale planner's error is not one clear line: %q", msg)
	}
}

// TestStalePlannerStopsBeforeSubmitting: planner A submits collect, then
// stops (paused past its lease) in the look-up before submitting feed. B
// takes over, adopts collect and submits feed and image. A, resumed,
// submits nothing and fails: 3 jobs in all, the manifest A wrote untouched,
// run.json B's.
func TestStalePlannerStopsBeforeSubmitting(t *testing.T) {
	for _, sp := range storePairs {
		t.Run(sp.name, func(t *testing.T) { testStalePlannerStopsBeforeSubmitting(t, sp.open) })
	}
}

func testStalePlannerStopsBeforeSubmitting(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	stA, st := open(t)
	clk := &clock{t: testNow}
	f := newFake()
	p := newPause()

	inA := planInput(3)
	inA.Now = clk.Now
	errA := make(chan error, 1)
	go func() {
		_, err := Plan(t.Context(), stA, &pausingBatch{fakeBatch: f, name: "fb-2026-11-23-feed", p: p}, inA)
		errA <- err
	}()
	p.wait(t, "the look-up of feed")
	mETag, mBytes := objectState(t, st, manifest.Key("2026-11-23"))

	clk.Advance(DefaultLease + time.Second)
	inB := planInput(3)
	inB.Now = clk.Now
	recB, err := Plan(t.Context(), st, f, inB)
	if err != nil {
		t.Fatalf("planner B: %v", err)
	}
	close(p.resume)
	checkLost(t, <-errA)

	if len(f.submitted) != 3 {
		t.Errorf("%d jobs submitted, want 3: %v", len(f.submitted), names(f))
	}
	if etag, b := objectState(t, st, manifest.Key("2026-11-23")); etag != mETag || string(b) != string(mBytes) {
		t.Errorf("manifest rewritten after planner A wrote it")
	}
	checkOwnedRecord(t, st, f, recB, 3)
}

// TestStalePlannerCannotReplaceManifest: planner A claims the run and stops
// (past its lease) just before writing the manifest. B takes over, writes
// its manifest (4 shops) and submits. A's late write does not replace it,
// and A stops before submitting.
func TestStalePlannerCannotReplaceManifest(t *testing.T) {
	for _, sp := range storePairs {
		t.Run(sp.name, func(t *testing.T) { testStalePlannerCannotReplaceManifest(t, sp.open) })
	}
}

func testStalePlannerCannotReplaceManifest(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	a, st := open(t)
	clk := &clock{t: testNow}
	f := newFake()
	p := newPause()

	inA := planInput(3)
	inA.Now = clk.Now
	errA := make(chan error, 1)
	go func() {
		stA := &pausingStore{Store: a, key: manifest.Key("2026-11-23"), p: p}
		_, err := Plan(t.Context(), stA, f, inA)
		errA <- err
	}()
	p.wait(t, "the manifest write")

	clk.Advance(DefaultLease + time.Second)
	inB := planInput(4)
	inB.Now = clk.Now
	recB, err := Plan(t.Context(), st, f, inB)
	if err != nil {
		t.Fatalf("planner B: %v", err)
	}
	mETag, mBytes := objectState(t, st, manifest.Key("2026-11-23"))
	close(p.resume)
	checkLost(t, <-errA)

	if etag, b := objectState(t, st, manifest.Key("2026-11-23")); etag != mETag || string(b) != string(mBytes) {
		t.Errorf("the stale planner rewrote the manifest")
	}
	if rows, _, err := manifest.ReadAll(t.Context(), st, manifest.Key("2026-11-23")); err != nil || len(rows) != 4 {
		t.Errorf("manifest: %d rows, %v; want planner B's 4", len(rows), err)
	}
	checkOwnedRecord(t, st, f, recB, 4)
}

// TestConcurrentPlannersOneOwner: five planners (separate store handles on
// one directory, as separate processes) start at once; one plans, the
// others wait for it and refuse with ErrRunExists.
func TestConcurrentPlannersOneOwner(t *testing.T) {
	dir := t.TempDir()
	f := newFake()
	const planners = 5
	errs := make([]error, planners)
	var wg sync.WaitGroup
	for i := range planners {
		st := openFileStore(t, dir)
		wg.Go(func() {
			in := planInput(3)
			in.Now, in.WaitBusy = time.Now, true
			_, errs[i] = Plan(t.Context(), st, f, in)
		})
	}
	wg.Wait()
	owners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			owners++
		case !errors.Is(err, ErrRunExists):
			t.Errorf("planner %d: %v, want nil or ErrRunExists", i, err)
		}
	}
	if owners != 1 || len(f.submitted) != 3 {
		t.Errorf("%d planners planned, %d jobs submitted; want 1 and 3", owners, len(f.submitted))
	}
}

// TestReplanNamesJobsAnew: a replan's jobs get new names, so the look-up
// by name never adopts the earlier plan's jobs.
func TestReplanNamesJobsAnew(t *testing.T) {
	st, f := openFileStore(t, t.TempDir()), newFake()
	if _, err := Plan(t.Context(), st, f, planInput(3)); err != nil {
		t.Fatal(err)
	}
	in := planInput(3)
	in.Replan = true
	rec, err := Plan(t.Context(), st, f, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"fb-2026-11-23-collect", "fb-2026-11-23-feed", "fb-2026-11-23-image",
		"fb-2026-11-23-p1-collect", "fb-2026-11-23-p1-feed", "fb-2026-11-23-p1-image"}
	if diff := cmp.Diff(want, names(f)); diff != "" {
		t.Errorf("submissions (-want +got):\n%s", diff)
	}
	if rec.Generation != 1 || aws.ToString(f.submitted[5].DependsOn[0].JobId) != rec.Jobs[0].JobID {
		t.Errorf("replanned record: generation %d, jobs %+v", rec.Generation, rec.Jobs)
	}
}
