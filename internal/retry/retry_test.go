package retry

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	errBusy = errors.New("busy")
	errGone = errors.New("gone")
)

func TestDo(t *testing.T) {
	tests := []struct {
		name      string
		p         Policy
		errs      []error // fn's answers, in order; nil then success
		wantCalls int
		wantErr   error
		wantWaits []time.Duration
	}{
		{name: "first try", p: Policy{Attempts: 3, Base: time.Second}, errs: []error{nil}, wantCalls: 1},
		{name: "retried then ok", p: Policy{Attempts: 4, Base: time.Second}, errs: []error{errBusy, errBusy, nil},
			wantCalls: 3, wantWaits: []time.Duration{time.Second, 2 * time.Second}},
		{name: "gives up", p: Policy{Attempts: 3, Base: time.Second}, errs: []error{errBusy, errBusy, errBusy, nil},
			wantCalls: 3, wantErr: errBusy, wantWaits: []time.Duration{time.Second, 2 * time.Second}},
		{name: "not retryable", p: Policy{Attempts: 3, Base: time.Second, Retryable: func(err error) bool { return err == errBusy }},
			errs: []error{errBusy, errGone, nil}, wantCalls: 2, wantErr: errGone, wantWaits: []time.Duration{time.Second}},
		{name: "capped", p: Policy{Attempts: 5, Base: time.Second, Max: 3 * time.Second}, errs: []error{errBusy, errBusy, errBusy, errBusy, nil},
			wantCalls: 5, wantWaits: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{name: "zero attempts is one", p: Policy{}, errs: []error{errBusy, nil}, wantCalls: 1, wantErr: errBusy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				var waits []time.Duration
				p := tc.p
				p.OnRetry = func(next int, d time.Duration, err error) {
					if next != calls+1 {
						t.Errorf("OnRetry next = %d after %d calls", next, calls)
					}
					waits = append(waits, d)
				}
				start := time.Now()
				got, err := Do(t.Context(), p, func(context.Context) (int, error) {
					calls++
					return calls, tc.errs[calls-1]
				})
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if got != tc.wantCalls || calls != tc.wantCalls {
					t.Fatalf("result %d after %d calls, want %d", got, calls, tc.wantCalls)
				}
				if diff := cmp.Diff(tc.wantWaits, waits); diff != "" {
					t.Errorf("waits (-want +got):\n%s", diff)
				}
				var sum time.Duration
				for _, w := range waits {
					sum += w
				}
				if el := time.Since(start); el != sum {
					t.Errorf("elapsed %v, want the waits' sum %v", el, sum)
				}
			})
		})
	}
}

// TestCancelledDuringWait: a cancelled context ends the wait at once, with
// the last error and the cancellation both visible.
func TestCancelledDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		go func() {
			time.Sleep(1500 * time.Millisecond)
			cancel()
		}()
		start := time.Now()
		_, err := Do(ctx, Policy{Attempts: 10, Base: time.Second}, func(context.Context) (struct{}, error) {
			calls++
			return struct{}{}, errBusy
		})
		if !errors.Is(err, errBusy) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want busy and canceled", err)
		}
		if calls != 2 || time.Since(start) != 1500*time.Millisecond {
			t.Fatalf("%d calls in %v, want 2 in 1.5s", calls, time.Since(start))
		}
	})
}

// TestCancelledDuringAttempt: an attempt that fails with its own error
// while ctx ends (a 500 that arrived before the cancel) is not retried,
// and the error says the context ended.
func TestCancelledDuringAttempt(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	_, err := Do(ctx, Policy{Attempts: 10, Base: time.Hour}, func(context.Context) (struct{}, error) {
		calls++
		cancel()
		return struct{}{}, errBusy
	})
	if !errors.Is(err, errBusy) || !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("err = %v after %d calls, want busy and canceled after 1", err, calls)
	}
}

func TestJitter(t *testing.T) {
	p := Policy{Base: time.Second, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := p.jittered(p.Delay(3))
		if d < 2*time.Second || d > 3*time.Second {
			t.Fatalf("jittered delay %v outside [2s, 3s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct delays in 200: no jitter", len(seen))
	}
	if d := (Policy{Base: time.Hour}).Delay(200); d <= 0 {
		t.Fatalf("Delay(200) overflowed: %v", d)
	}
}
