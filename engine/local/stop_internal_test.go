package local

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/feedbatch/feedbatch/engine"
)

// signalLog records the signals an attempt's process group got, with the
// time since the test began.
type signalLog struct {
	start time.Time
	got   []string
}

// seen returns the signals so far and whether r timed out, read under the
// engine's lock as they are written.
func (l *signalLog) seen(e *Engine, r *running) ([]string, bool) {
	e.lock()
	defer e.unlock()
	return slices.Clone(l.got), r.timedOut
}

func (l *signalLog) signal(sig syscall.Signal) {
	l.got = append(l.got, fmt.Sprintf("%v@%v", sig, time.Since(l.start)))
}

// startedAttempt is an attempt whose process started, wired as execute
// wires it but without a process: cancelling its context calls termGroup,
// as exec calls the command's Cancel.
func startedAttempt(e *Engine, log *signalLog) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, signal: log.signal}
	context.AfterFunc(ctx, func() { e.termGroup(r) })
	return r
}

// TestStopOnClock runs timeouts and the kill grace on the default clock in
// a synctest bubble: a 60 s timeout and a 30 s grace take no real time, and
// each signal comes at its exact instant.
func TestStopOnClock(t *testing.T) {
	const timeout, grace = 60 * time.Second, 30 * time.Second
	newEngine := func() *Engine {
		e := newEngine(Config{Dir: t.TempDir(), Clock: realClock{}, KillGrace: grace})
		return e
	}
	t.Run("timeout, then SIGKILL after the grace", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine()
			log := &signalLog{start: time.Now()}
			r := startedAttempt(e, log)
			e.lock()
			e.armTimeout(r, timeout)
			e.unlock()
			time.Sleep(timeout - time.Millisecond)
			synctest.Wait()
			if got, timedOut := log.seen(e, r); len(got) != 0 || timedOut {
				t.Fatalf("before the timeout: signals %v, timedOut %v", got, timedOut)
			}
			time.Sleep(grace + time.Second)
			synctest.Wait()
			want := []string{"terminated@1m0s", "killed@1m30s"}
			if got, timedOut := log.seen(e, r); !slices.Equal(got, want) || !timedOut {
				t.Errorf("signals %v (timedOut %v), want %v", got, timedOut, want)
			}
		})
	})
	t.Run("exits within the grace", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine()
			log := &signalLog{start: time.Now()}
			r := startedAttempt(e, log)
			e.lock()
			e.armTimeout(r, timeout)
			e.unlock()
			time.Sleep(timeout + 10*time.Second)
			synctest.Wait()
			e.lock()
			e.reapedLocked(r) // its group's leftovers are killed at once
			e.unlock()
			time.Sleep(time.Hour)
			synctest.Wait()
			want := []string{"terminated@1m0s", "killed@1m10s"}
			if got, _ := log.seen(e, r); !slices.Equal(got, want) {
				t.Errorf("signals %v, want %v", got, want)
			}
		})
	})
	t.Run("exits before the timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine()
			log := &signalLog{start: time.Now()}
			r := startedAttempt(e, log)
			e.lock()
			e.armTimeout(r, timeout)
			e.unlock()
			time.Sleep(time.Second)
			e.lock()
			e.reapedLocked(r)
			e.unlock()
			time.Sleep(time.Hour)
			synctest.Wait()
			want := []string{"killed@1s"}
			if got, timedOut := log.seen(e, r); !slices.Equal(got, want) || timedOut {
				t.Errorf("signals %v (timedOut %v), want %v", got, timedOut, want)
			}
		})
	})
	t.Run("terminated before the timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine()
			log := &signalLog{start: time.Now()}
			r := startedAttempt(e, log)
			e.lock()
			e.armTimeout(r, timeout)
			e.unlock()
			time.Sleep(10 * time.Second)
			e.lock()
			r.terminated = true
			e.stopLocked(r)
			e.stopLocked(r) // a second stop changes nothing
			e.unlock()
			time.Sleep(time.Hour)
			synctest.Wait()
			want := []string{"terminated@10s", "killed@40s"}
			if got, timedOut := log.seen(e, r); !slices.Equal(got, want) || timedOut {
				t.Errorf("signals %v (timedOut %v), want %v", got, timedOut, want)
			}
		})
	})
	t.Run("stopped before its process started", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			e := newEngine()
			r := &running{}
			e.lock()
			r.hostLost = true
			e.stopLocked(r) // no context yet: execute sees the flags
			e.unlock()
			if !r.stopping {
				t.Error("not stopping")
			}
		})
	})
}

// TestIllegalTransitionRefused: an illegal status change is a
// *engine.TransitionError and leaves the job as it was.
func TestIllegalTransitionRefused(t *testing.T) {
	e := newEngine(Config{Dir: t.TempDir(), Clock: realClock{}})
	j := &job{rec: jobRecord{ID: "j", Status: engine.StatusSucceeded, StatusReason: "done"}, spec: &jobSpec{}, index: -1}
	e.addTop(j)
	var te *engine.TransitionError
	if err := e.setStatus(j, engine.StatusRunning); !errors.As(err, &te) || te.From != engine.StatusSucceeded || te.To != engine.StatusRunning {
		t.Errorf("setStatus SUCCEEDED -> RUNNING: %v", err)
	}
	if err := e.fail(j, "late", true); !errors.As(err, &te) {
		t.Errorf("fail of a SUCCEEDED job: %v", err)
	}
	if err := e.terminate(j, "late"); err != nil {
		t.Errorf("terminate of a finished job: %v (a no-op)", err)
	}
	if j.rec.Status != engine.StatusSucceeded || j.rec.StatusReason != "done" || j.rec.IsCancelled || j.rec.IsTerminated || j.rec.StoppedAt != 0 {
		t.Errorf("job changed: %+v", j.rec)
	}

	r := &job{rec: jobRecord{ID: "r", Status: engine.StatusRunnable, Attempts: []attemptRecord{{TaskID: "t"}}}, spec: &jobSpec{}, index: -1}
	e.addTop(r)
	if err := e.setStatus(r, engine.StatusSucceeded); !errors.As(err, &te) {
		t.Errorf("setStatus RUNNABLE -> SUCCEEDED: %v", err)
	}
	if err := e.finishAttempt(r, attemptEnd{exitCode: i32(0)}); !errors.As(err, &te) {
		t.Errorf("an attempt ending for a RUNNABLE job: %v", err)
	}
	if r.rec.Status != engine.StatusRunnable {
		t.Errorf("status %s, want RUNNABLE", r.rec.Status)
	}

	p := &job{rec: jobRecord{ID: "p", Status: engine.StatusSubmitted}, spec: &jobSpec{ArraySize: 2}, index: -1}
	e.addTop(p)
	if err := e.setParentStatus(p, engine.StatusRunning, ""); !errors.As(err, &te) || !te.Parent {
		t.Errorf("array parent SUBMITTED -> RUNNING: %v", err)
	}
	if err := e.setParentStatus(p, engine.StatusSucceeded, ""); !errors.As(err, &te) {
		t.Errorf("array parent SUBMITTED -> SUCCEEDED: %v", err)
	}
	if p.rec.Status != engine.StatusSubmitted || p.rec.StoppedAt != 0 {
		t.Errorf("parent changed: %+v", p.rec)
	}
	if err := e.setStatus(p.children[0], engine.StatusRunnable); err != nil {
		t.Fatalf("child PENDING -> RUNNABLE: %v", err)
	}
	if p.rec.Status != engine.StatusPending {
		t.Errorf("parent %s after a child moved, want PENDING", p.rec.Status)
	}
}
