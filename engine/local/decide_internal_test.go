package local

import (
	"errors"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/engine"
)

// TestDecideAttempt pins the next status after an attempt: what is never
// retried (terminate, timeout), what is retried while attempts remain
// (lost host, start failure, non-zero exit; evaluateOnExit applies), and
// the reasons written.
func TestDecideAttempt(t *testing.T) {
	const (
		K = engine.StatusSucceeded
		R = engine.StatusRunnable
		F = engine.StatusFailed
	)
	three := &jobSpec{RetryStrategy: &retryStrategy{Attempts: i32(3)}}
	exitOnHost := &jobSpec{RetryStrategy: &retryStrategy{Attempts: i32(3), EvaluateOnExit: []evaluateOnExit{
		{Action: "EXIT", OnStatusReason: "Host EC2*"},
	}}}
	exitOn137 := &jobSpec{RetryStrategy: &retryStrategy{Attempts: i32(3), EvaluateOnExit: []evaluateOnExit{
		{Action: "EXIT", OnExitCode: "137"},
	}}}
	exitOnStart := &jobSpec{RetryStrategy: &retryStrategy{Attempts: i32(3), EvaluateOnExit: []evaluateOnExit{
		{Action: "EXIT", OnReason: "CannotStartContainerError*"},
	}}}
	tests := []struct {
		name string
		s    *jobSpec
		made int
		end  attemptEnd
		want attemptVerdict
	}{
		{"exit 0", three, 1, attemptEnd{exitCode: i32(0)},
			attemptVerdict{statusReason: reasonEssentialExited, next: K}},
		{"exit 1 retried", three, 1, attemptEnd{exitCode: i32(1)},
			attemptVerdict{statusReason: reasonEssentialExited, next: R}},
		{"exit 1 last attempt", three, 3, attemptEnd{exitCode: i32(1)},
			attemptVerdict{statusReason: reasonEssentialExited, next: F}},
		{"exit 1 single attempt", &jobSpec{}, 1, attemptEnd{exitCode: i32(1)},
			attemptVerdict{statusReason: reasonEssentialExited, next: F}},
		{"evaluateOnExit exit code", exitOn137, 1, attemptEnd{exitCode: i32(137)},
			attemptVerdict{statusReason: reasonEssentialExited, next: F}},
		{"terminated never retried", three, 1, attemptEnd{terminated: true, stopReason: "stop", exitCode: i32(143)},
			attemptVerdict{statusReason: "stop", next: F, terminated: true}},
		{"terminated before start", three, 1, attemptEnd{terminated: true, stopReason: "stop"},
			attemptVerdict{statusReason: "stop", next: F, terminated: true}},
		{"terminate wins over timeout", three, 1, attemptEnd{terminated: true, stopReason: "stop", timedOut: true, exitCode: i32(143)},
			attemptVerdict{statusReason: "stop", next: F, terminated: true}},
		{"timeout never retried", three, 1, attemptEnd{timedOut: true, exitCode: i32(143)},
			attemptVerdict{statusReason: reasonTimeout, next: F}},
		{"host lost retried", three, 1, attemptEnd{hostLost: true},
			attemptVerdict{statusReason: reasonHostLost, next: R}},
		{"host lost, EXIT on status reason", exitOnHost, 1, attemptEnd{hostLost: true, exitCode: i32(143)},
			attemptVerdict{statusReason: reasonHostLost, next: F}},
		{"start failure retried", three, 1, attemptEnd{startErr: errors.New("no such file")},
			attemptVerdict{reason: "CannotStartContainerError: no such file", statusReason: reasonTaskNotStarted, next: R}},
		{"start failure, EXIT on reason", exitOnStart, 1, attemptEnd{startErr: errors.New("no such file")},
			attemptVerdict{reason: "CannotStartContainerError: no such file", statusReason: reasonTaskNotStarted, next: F}},
		{"no exit code seen", three, 3, attemptEnd{},
			attemptVerdict{statusReason: reasonEssentialExited, next: F}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideAttempt(tc.s, tc.made, tc.end); got != tc.want {
				t.Errorf("decideAttempt = %+v, want %+v", got, tc.want)
			}
		})
	}
	long := errors.New(string(make([]byte, 400)))
	if v := decideAttempt(three, 1, attemptEnd{startErr: long}); len(v.reason) != 255 {
		t.Errorf("reason of %d bytes, want 255", len(v.reason))
	}
}

// TestDepTargets: a plain dependency is the job; N_TO_N is the same index
// of the other array; SEQUENTIAL the previous sibling (none for index 0);
// an unknown job is no target.
func TestDepTargets(t *testing.T) {
	mk := func(id string, size int32, deps ...jobDependency) *job {
		j := &job{rec: jobRecord{ID: id}, spec: &jobSpec{ArraySize: size, DependsOn: deps}, index: -1}
		for i := range size {
			j.children = append(j.children, &job{rec: jobRecord{ID: id + ":" + itoa32(i)}, spec: j.spec, parent: j, index: i})
		}
		return j
	}
	plain := mk("plain", 0)
	a := mk("a", 3)
	jobs := map[string]*job{"plain": plain, "a": a}
	byID := func(id string) *job { return jobs[id] }
	b := mk("b", 3, jobDependency{JobID: "a", Type: depNToN}, jobDependency{JobID: "plain"}, jobDependency{JobID: "gone"})
	seq := mk("s", 3, jobDependency{Type: depSequential})
	single := mk("x", 0, jobDependency{JobID: "a"})
	ids := func(js []*job) []string {
		var out []string
		for _, j := range js {
			out = append(out, j.rec.ID)
		}
		return out
	}
	for _, tc := range []struct {
		j    *job
		want []string
	}{
		{b.children[0], []string{"a:0", "plain"}},
		{b.children[2], []string{"a:2", "plain"}},
		{seq.children[0], nil},
		{seq.children[1], []string{"s:0"}},
		{seq.children[2], []string{"s:1"}},
		{single, []string{"a"}},
		{plain, nil},
	} {
		got := ids(depTargets(tc.j, byID))
		if len(got) != len(tc.want) {
			t.Errorf("%s: targets %v, want %v", tc.j.rec.ID, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: targets %v, want %v", tc.j.rec.ID, got, tc.want)
			}
		}
	}
}

// TestDepsOf: all succeeded is ready, any failure decides, anything else
// waits.
func TestDepsOf(t *testing.T) {
	const (
		P = engine.StatusPending
		U = engine.StatusRunning
		K = engine.StatusSucceeded
		F = engine.StatusFailed
	)
	for _, tc := range []struct {
		in   []engine.Status
		want depState
	}{
		{nil, depsReady},
		{[]engine.Status{K, K}, depsReady},
		{[]engine.Status{K, U}, depsWaiting},
		{[]engine.Status{P}, depsWaiting},
		{[]engine.Status{U, F}, depsFailed},
		{[]engine.Status{F, U}, depsFailed},
		{[]engine.Status{K, F}, depsFailed},
	} {
		if got := depsOf(tc.in); got != tc.want {
			t.Errorf("depsOf(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestDecideWaiting pins the order of what ends a waiting job: cancel,
// then a failed dependency, then overrides, then tags.
func TestDecideWaiting(t *testing.T) {
	const (
		P = engine.StatusPending
		R = engine.StatusRunnable
		F = engine.StatusFailed
	)
	for _, tc := range []struct {
		name      string
		f         waitingFacts
		next      engine.Status
		reason    string
		cancelled bool
	}{
		{"waits", waitingFacts{status: engine.StatusSubmitted, deps: depsWaiting}, P, "", false},
		{"cancel waits for dependencies", waitingFacts{status: P, deps: depsWaiting, cancelReason: "c"}, P, "", false},
		{"ready", waitingFacts{status: P, deps: depsReady}, R, "", false},
		{"cancelled once ready", waitingFacts{status: P, deps: depsReady, cancelReason: "c"}, F, "c", true},
		{"cancel wins over failed dependency", waitingFacts{status: P, deps: depsFailed, cancelReason: "c"}, F, "c", true},
		{"dependency failed", waitingFacts{status: P, deps: depsFailed, overridesBad: true}, F, reasonDependentFailed, false},
		{"overrides too long", waitingFacts{status: P, deps: depsReady, overridesBad: true, tooManyTags: true}, F, reasonOverridesLength, false},
		{"too many tags", waitingFacts{status: P, deps: depsReady, tooManyTags: true}, F, reasonTooManyTags, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, reason, cancelled := decideWaiting(tc.f)
			if next != tc.next || reason != tc.reason || cancelled != tc.cancelled {
				t.Errorf("decideWaiting = %s %q %v, want %s %q %v", next, reason, cancelled, tc.next, tc.reason, tc.cancelled)
			}
		})
	}
}

// TestDecideParent: an array parent is PENDING once a child moved, and
// ends when every child has: SUCCEEDED, or FAILED with the stop reason or
// "Array Child Job failed".
func TestDecideParent(t *testing.T) {
	const (
		S = engine.StatusSubmitted
		P = engine.StatusPending
		K = engine.StatusSucceeded
		F = engine.StatusFailed
	)
	// counts: SUBMITTED PENDING RUNNABLE STARTING RUNNING SUCCEEDED FAILED
	for _, tc := range []struct {
		name   string
		cur    engine.Status
		counts [7]int32
		stop   string
		next   engine.Status
		reason string
	}{
		{"all pending", S, [7]int32{0, 3}, "", S, ""},
		{"one runnable", S, [7]int32{0, 2, 1}, "", P, ""},
		{"still running", P, [7]int32{0, 0, 0, 0, 1, 2}, "", P, ""},
		{"all succeeded", P, [7]int32{0, 0, 0, 0, 0, 3}, "", K, ""},
		{"one failed", P, [7]int32{0, 0, 0, 0, 0, 2, 1}, "", F, reasonArrayChild},
		{"stopped", P, [7]int32{0, 0, 0, 0, 0, 0, 3}, "by user", F, "by user"},
		{"ends from SUBMITTED", S, [7]int32{0, 0, 0, 0, 0, 3}, "", K, ""},
		{"terminal stays", F, [7]int32{0, 0, 0, 0, 0, 3}, "", F, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, reason := decideParent(tc.cur, tc.counts, 3, tc.stop)
			if next != tc.next || reason != tc.reason {
				t.Errorf("decideParent = %s %q, want %s %q", next, reason, tc.next, tc.reason)
			}
		})
	}
}

func TestAttemptTimeoutAndFit(t *testing.T) {
	if d := attemptTimeout(&jobSpec{}); d != 0 {
		t.Errorf("no timeout: %v", d)
	}
	if d := attemptTimeout(&jobSpec{Timeout: &jobTimeout{}}); d != 0 {
		t.Errorf("empty timeout: %v", d)
	}
	if d := attemptTimeout(&jobSpec{Timeout: &jobTimeout{AttemptDurationSeconds: i32(90)}}); d != 90*time.Second {
		t.Errorf("timeout 90: %v", d)
	}
	for _, tc := range []struct {
		s    jobSpec
		want bool
	}{
		{jobSpec{CPUMilli: 2000, MemMiB: 1024}, true},
		{jobSpec{CPUMilli: 2001, MemMiB: 1024}, false},
		{jobSpec{CPUMilli: 1000, MemMiB: 1025}, false},
		{jobSpec{CPUMilli: 1000, MemMiB: 10, GPUs: 1}, false},
	} {
		if got := fitsCE(&tc.s, 2, 1024); got != tc.want {
			t.Errorf("fitsCE(%+v) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
