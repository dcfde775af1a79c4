package local

import (
	"strings"
	"time"

	"github.com/feedbatch/feedbatch/engine"
)

// The engine's decisions, as pure functions of what a job is and what
// happened to it: the next status after an attempt (retry strategy and
// attempts), whether dependencies are satisfied (plain, N_TO_N,
// SEQUENTIAL), what a waiting job does once they are, an array parent's
// status, and an attempt's timeout. sched.go and run.go apply them: they
// change statuses, the runnable queue and the journal.

// attemptEnd is how an attempt ended, as its run saw it.
type attemptEnd struct {
	terminated bool   // TerminateJob stopped it
	stopReason string // TerminateJob's reason
	timedOut   bool   // its timeout stopped it
	hostLost   bool   // the engine closed or crashed under it
	startErr   error  // its process never started
	exitCode   *int32 // nil if no process exit was seen
}

// attemptVerdict is what follows an attempt.
type attemptVerdict struct {
	reason       string        // the attempt container's reason
	statusReason string        // the attempt's and the job's statusReason
	next         engine.Status // SUCCEEDED, RUNNABLE (retried) or FAILED
	terminated   bool          // the job's isTerminated
}

// decideAttempt decides the job's next status after its attemptsMade-th
// attempt ended: a terminated or timed-out attempt is never retried; a lost
// host, a process that did not start and a non-zero exit are retried as the
// retry strategy allows; exit 0 succeeds.
func decideAttempt(s *jobSpec, attemptsMade int, end attemptEnd) attemptVerdict {
	v := attemptVerdict{statusReason: reasonEssentialExited, next: engine.StatusFailed}
	retryable := false
	switch {
	case end.terminated:
		v.terminated = true
		v.statusReason = end.stopReason
	case end.timedOut:
		v.statusReason = reasonTimeout
	case end.hostLost:
		v.statusReason = reasonHostLost
		retryable = true
	case end.startErr != nil:
		v.reason = truncate("CannotStartContainerError: "+end.startErr.Error(), 255)
		v.statusReason = reasonTaskNotStarted
		retryable = true
	case end.exitCode != nil && *end.exitCode == 0:
		v.next = engine.StatusSucceeded
	default:
		retryable = true
	}
	a := attemptRecord{ExitCode: end.exitCode, Reason: v.reason, StatusReason: v.statusReason}
	if retryable && shouldRetry(s, attemptsMade, &a) {
		v.next = engine.StatusRunnable
	}
	return v
}

// shouldRetry applies the retry strategy to a failed attempt: retry while
// attempts remain, unless the first evaluateOnExit entry whose conditions
// all match says EXIT; no matching entry means RETRY.
func shouldRetry(s *jobSpec, attemptsMade int, a *attemptRecord) bool {
	if attemptsMade >= s.attempts() {
		return false
	}
	if s.RetryStrategy == nil {
		return true
	}
	for _, ev := range s.RetryStrategy.EvaluateOnExit {
		if evMatches(ev, a) {
			return strings.EqualFold(ev.Action, "RETRY")
		}
	}
	return true
}

// evMatches reports whether every condition given in ev matches a.
func evMatches(ev evaluateOnExit, a *attemptRecord) bool {
	if ev.OnExitCode != "" {
		if a.ExitCode == nil || !matchGlob(ev.OnExitCode, itoa32(*a.ExitCode)) {
			return false
		}
	}
	if ev.OnReason != "" && !matchGlob(ev.OnReason, a.Reason) {
		return false
	}
	if ev.OnStatusReason != "" && !matchGlob(ev.OnStatusReason, a.StatusReason) {
		return false
	}
	return true
}

// depState is where a job's dependencies stand.
type depState int

const (
	depsWaiting depState = iota // one has not finished, none failed
	depsReady                   // all succeeded (or there are none)
	depsFailed                  // one failed
)

// depTargets are the jobs j waits for: each plain dependency; for an array
// child, the same index of an N_TO_N array and the previous sibling of a
// SEQUENTIAL one. A dependency on an unknown job is no target. byID only
// reads the job table.
func depTargets(j *job, byID func(id string) *job) []*job {
	var out []*job
	for _, d := range j.spec.DependsOn {
		switch d.Type {
		case depSequential:
			if j.parent != nil && j.index > 0 {
				out = append(out, j.parent.children[j.index-1])
			}
		case depNToN:
			if t := byID(d.JobID); t != nil && j.parent != nil && int(j.index) < len(t.children) {
				out = append(out, t.children[j.index])
			}
		default:
			if t := byID(d.JobID); t != nil {
				out = append(out, t)
			}
		}
	}
	return out
}

// depsOf is where dependencies with these statuses stand: a failed one
// decides, whatever the others are.
func depsOf(statuses []engine.Status) depState {
	st := depsReady
	for _, s := range statuses {
		switch s {
		case engine.StatusSucceeded:
		case engine.StatusFailed:
			return depsFailed
		default:
			st = depsWaiting
		}
	}
	return st
}

// waitingFacts is what decides a SUBMITTED or PENDING job's next status.
type waitingFacts struct {
	status       engine.Status
	deps         depState
	cancelReason string // CancelJob reached it while it waited
	overridesBad bool   // its containerOverrides are too long
	tooManyTags  bool   // propagated tags exceed the limit
}

// decideWaiting decides a SUBMITTED or PENDING job's next status and the
// reason: PENDING while a dependency is unfinished, then FAILED (cancelled,
// a dependency failed, overrides too long, too many tags) or RUNNABLE.
// next equal to the current status means nothing changes.
func decideWaiting(f waitingFacts) (next engine.Status, reason string, cancelled bool) {
	switch {
	case f.deps == depsWaiting:
		return engine.StatusPending, "", false
	case f.cancelReason != "":
		return engine.StatusFailed, f.cancelReason, true
	case f.deps == depsFailed:
		return engine.StatusFailed, reasonDependentFailed, false
	case f.overridesBad:
		return engine.StatusFailed, reasonOverridesLength, false
	case f.tooManyTags:
		return engine.StatusFailed, reasonTooManyTags, false
	}
	return engine.StatusRunnable, "", false
}

// fitsCE reports whether a job's requirements can ever be met by a compute
// environment of vcpus and memMiB (no GPUs).
func fitsCE(s *jobSpec, vcpus, memMiB int) bool {
	return s.GPUs == 0 && s.CPUMilli <= int64(vcpus)*1000 && s.MemMiB <= int64(memMiB)
}

// decideParent decides an array parent's next status from its children's
// counts: PENDING once a child left PENDING, SUCCEEDED once every child
// succeeded, FAILED (reason: stopReason, else "Array Child Job failed")
// once every child finished and one failed. next equal to the current
// status means nothing changes.
func decideParent(cur engine.Status, counts [7]int32, size int32, stopReason string) (next engine.Status, reason string) {
	if cur.Terminal() {
		return cur, ""
	}
	succeeded := counts[statusIndex(engine.StatusSucceeded)]
	failed := counts[statusIndex(engine.StatusFailed)]
	next = cur
	if cur == engine.StatusSubmitted && counts[statusIndex(engine.StatusPending)] < size {
		next = engine.StatusPending
	}
	if succeeded+failed < size {
		return next, ""
	}
	if failed == 0 {
		return engine.StatusSucceeded, ""
	}
	if stopReason != "" {
		return engine.StatusFailed, stopReason
	}
	return engine.StatusFailed, reasonArrayChild
}

// attemptTimeout is how long an attempt may run (0: no timeout).
func attemptTimeout(s *jobSpec) time.Duration {
	if t := s.Timeout; t != nil && t.AttemptDurationSeconds != nil {
		return time.Duration(*t.AttemptDurationSeconds) * time.Second
	}
	return 0
}
