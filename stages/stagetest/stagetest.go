// Package stagetest is what every stage must satisfy: a result record is
// written, published outputs exist, a second run gives identical outputs, and
// a run cancelled before it starts, or interrupted at any store write (the
// write fails, or the process dies right after it), leaves the published
// outputs as they were.
//
// Each stage's test calls Run with a function that prepares a job (its inputs
// already in job.Store) and, for a stage that skips unchanged input, the
// Change option that gives the next run something new to publish.
package stagetest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// Run checks the contract of st on jobs made by newJob.
func Run(t *testing.T, st stages.Stage, newJob func(t *testing.T) stages.Job, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	t.Run("ResultRecord", func(t *testing.T) {
		job := newJob(t)
		res, err := stages.Execute(t.Context(), st, job)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		got := readResult(t, job, st.Name())
		if got.Status != stages.StatusSucceeded || got.Stage != st.Name() ||
			got.ShopID != job.Row.ShopID || got.Index != job.Row.Index {
			t.Errorf("result record = %+v, want succeeded %s shop %s index %d",
				got, st.Name(), job.Row.ShopID, job.Row.Index)
		}
		if got.ItemsOut != res.ItemsOut {
			t.Errorf("record items_out %d, returned %d", got.ItemsOut, res.ItemsOut)
		}
		for _, key := range res.Outputs {
			if _, err := job.Store.Stat(t.Context(), key); err != nil {
				t.Errorf("output %s listed but not stored: %v", key, err)
			}
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		job := newJob(t)
		first, err := stages.Execute(t.Context(), st, job)
		if err != nil {
			t.Fatalf("first Execute: %v", err)
		}
		before := snapshot(t, job.Store, first.Outputs)
		second, err := stages.Execute(t.Context(), st, job)
		if err != nil {
			t.Fatalf("second Execute: %v", err)
		}
		after := snapshot(t, job.Store, second.Outputs)
		for key, sum := range before {
			if after[key] != sum {
				t.Errorf("output %s changed between identical runs", key)
			}
		}
	})
	t.Run("CancelledKeepsOutputs", func(t *testing.T) {
		job := newJob(t)
		first, err := stages.Execute(t.Context(), st, job)
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		before := snapshot(t, job.Store, first.Outputs)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err = stages.Execute(ctx, st, job)
		if err == nil {
			// A stage may legitimately finish without blocking on ctx (for
			// example when nothing changed); outputs must still be intact.
			t.Log("stage succeeded with a cancelled context")
		} else if !errors.Is(err, context.Canceled) {
			t.Logf("cancelled run error: %v", err)
		}
		intact(t, job.Store, before, "a cancelled run")
		if err != nil {
			if got := readResult(t, job, st.Name()); got.Status != stages.StatusFailed || got.Error == "" {
				t.Errorf("cancelled run record = %+v, want failed with error", got)
			}
		}
	})
	t.Run("InterruptedPublishKeepsOutputs", func(t *testing.T) {
		interrupted(t, st, newJob, o)
	})
}

// Option adjusts Run.
type Option func(*options)

type options struct {
	change func(t *testing.T, job stages.Job) stages.Job
}

// Change gives Run a way to make a job's next run publish new outputs (a
// stage that skips unchanged input writes nothing on an identical re-run,
// which leaves nothing to interrupt). fn alters the inputs in job.Store after
// a first run and returns the job of the next run (e.g. with a new RunID).
func Change(fn func(t *testing.T, job stages.Job) stages.Job) Option {
	return func(o *options) { o.change = fn }
}

// interrupted stops a second run at every store write it makes, in two
// ways: the write fails (after reading part of its body), or the process
// "dies" right after it (the context is cancelled and every later write
// fails). After each, every output must be either the first run's object,
// byte for byte, or the complete new one (the last write a clean second run
// makes to that key): a stage that deletes, truncates, or writes a
// placeholder before the real object is caught at the step in between.
func interrupted(t *testing.T, st stages.Stage, newJob func(t *testing.T) stages.Job, o options) {
	t.Helper()
	second := func(t *testing.T, job stages.Job) stages.Job {
		if o.change != nil {
			return o.change(t, job)
		}
		return job
	}
	// What does a clean second run write?
	job := newJob(t)
	first, err := stages.Execute(t.Context(), st, job)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	job = second(t, job)
	probe := &faultStore{Store: job.Store}
	job.Store = probe
	res, err := st.Run(t.Context(), job)
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	writes, final := probe.writes(), probe.perKey()
	t.Logf("a second run makes %d store writes", writes)
	if writes == 0 {
		t.Fatal("a second run writes nothing, so an interrupted publish cannot be checked: " +
			"pass stagetest.Change, altering the job's inputs so that the next run publishes")
	}
	outputs := slices.Concat(first.Outputs, res.Outputs)
	slices.Sort(outputs)
	outputs = slices.Compact(outputs)
	for n := 1; n <= writes; n++ {
		for _, mode := range []faultMode{failWrite, dieAfterWrite} {
			t.Run(fmt.Sprintf("%s%d", mode, n), func(t *testing.T) {
				job := newJob(t)
				if _, err := stages.Execute(t.Context(), st, job); err != nil {
					t.Fatalf("Execute: %v", err)
				}
				before := make(map[string]string)
				for _, key := range outputs {
					if sum, err := digest(t.Context(), job.Store, key); err == nil {
						before[key] = sum
					} else if !errors.Is(err, store.ErrNotFound) {
						t.Fatal(err)
					}
				}
				job = second(t, job)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				fs := &faultStore{Store: job.Store, mode: mode, at: n, cancel: cancel}
				job.Store = fs
				_, err := st.Run(ctx, job)
				what := fmt.Sprintf("a run interrupted at write %d (%s %s)", n, mode, fs.faultKey())
				t.Logf("%s: %v", what, err)
				done := fs.perKey()
				for _, key := range outputs {
					sum, err := digest(t.Context(), fs.Store, key)
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						t.Fatal(err)
					}
					old, existed := before[key]
					switch {
					case err == nil && existed && sum == old, err != nil && !existed:
						// as it was
					case done[key] == final[key] && final[key] > 0:
						// the stage's last write to it landed: the new object, whole
					case err != nil:
						t.Errorf("output %s lost by %s", key, what)
					default:
						t.Errorf("output %s is neither the previous object nor the complete new one after %s "+
							"(write %d of the %d a clean run makes to it)", key, what, done[key], final[key])
					}
				}
			})
		}
	}
}

// intact fails t if any object of before is missing or differs in st.
func intact(t *testing.T, st store.Store, before map[string]string, what string) {
	t.Helper()
	for _, key := range slices.Sorted(maps.Keys(before)) {
		sum, err := digest(t.Context(), st, key)
		switch {
		case err != nil:
			t.Errorf("output %s lost by %s: %v", key, what, err)
		case sum != before[key]:
			t.Errorf("output %s changed by %s", key, what)
		}
	}
}

type faultMode string

const (
	// failWrite: write n returns an error after reading part of its body
	// and stores nothing; the run goes on as the stage decides.
	failWrite faultMode = "FailWrite"
	// dieAfterWrite: write n lands, then the context is cancelled and every
	// later write fails, as if the process were killed.
	dieAfterWrite faultMode = "DieAfterWrite"
)

// errInjected is the error the fault store returns.
var errInjected = errors.New("stagetest: injected store failure")

// faultStore counts writes (Put, Swap, Delete) and injects a fault at write
// number at (1-based); at == 0 only counts.
type faultStore struct {
	store.Store
	mode   faultMode
	at     int
	cancel context.CancelFunc

	mu   sync.Mutex
	n    int
	dead bool
	key  string
	// landed counts the writes to each key that succeeded.
	landed map[string]int
}

func (f *faultStore) perKey() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.landed)
}

// done records a write to key that returned err.
func (f *faultStore) done(key string, err error) {
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.landed == nil {
		f.landed = make(map[string]int)
	}
	f.landed[key]++
}

func (f *faultStore) writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *faultStore) faultKey() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.key
}

// before is called before each write of key. It returns an error if the
// write must not happen, else after, to call once the write is done.
func (f *faultStore) before(key string) (after func(), err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return nil, fmt.Errorf("write %s after the fault: %w", key, errInjected)
	}
	f.n++
	if f.at == 0 || f.n != f.at {
		return func() {}, nil
	}
	f.key = key
	if f.mode == failWrite {
		return nil, fmt.Errorf("write %s: %w", key, errInjected)
	}
	return func() {
		f.mu.Lock()
		f.dead = true
		f.mu.Unlock()
		f.cancel()
	}, nil
}

func (f *faultStore) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) error {
	after, err := f.before(key)
	if err != nil {
		drainSome(r)
		return err
	}
	err = f.Store.Put(ctx, key, r, opts)
	f.done(key, err)
	after()
	return err
}

func (f *faultStore) Swap(ctx context.Context, key string, r io.Reader, ifMatch string, opts *store.PutOptions) (string, error) {
	after, err := f.before(key)
	if err != nil {
		drainSome(r)
		return "", err
	}
	etag, err := f.Store.Swap(ctx, key, r, ifMatch, opts)
	f.done(key, err)
	after()
	return etag, err
}

func (f *faultStore) Delete(ctx context.Context, key string) error {
	after, err := f.before(key)
	if err != nil {
		return err
	}
	err = f.Store.Delete(ctx, key)
	f.done(key, err)
	after()
	return err
}

// drainSome reads the first bytes of a refused body, as a store does before
// a connection breaks, so that a stage streaming into Put sees its reader
// stop mid-way.
func drainSome(r io.Reader) {
	io.CopyN(io.Discard, r, 4<<10)
}

func readResult(t *testing.T, job stages.Job, stage string) stages.Result {
	t.Helper()
	key := stages.ResultKey(job.ManifestKey, stage, job.Row.Index)
	rc, err := job.Store.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("result record %s: %v", key, err)
	}
	defer rc.Close()
	var res stages.Result
	if err := json.NewDecoder(rc).Decode(&res); err != nil {
		t.Fatalf("decode result record %s: %v", key, err)
	}
	return res
}

func snapshot(t *testing.T, st store.Store, keys []string) map[string]string {
	t.Helper()
	sums := make(map[string]string, len(keys))
	for _, key := range keys {
		sum, err := digest(t.Context(), st, key)
		if err != nil {
			t.Fatalf("output %s: %v", key, err)
		}
		sums[key] = sum
	}
	return sums
}

// digest is the SHA-256 of the object at key.
func digest(ctx context.Context, st store.Store, key string) (string, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}
