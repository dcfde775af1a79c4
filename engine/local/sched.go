package local

import (
	"strings"

	"github.com/feedbatch/feedbatch/engine"
)

// scheduler is the engine's one background loop: it evaluates the
// dependencies of waiting jobs and starts RUNNABLE jobs that fit.
func (e *Engine) scheduler() {
	for {
		select {
		case <-e.stopped:
			return
		case <-e.kick:
		}
		e.lock()
		if !e.closing {
			e.pass()
		}
		e.unlock()
	}
}

// pass does one round of scheduling (under the lock).
func (e *Engine) pass() {
	for len(e.todo) > 0 {
		todo := e.todo
		e.todo = nil
		for _, j := range todo {
			e.evaluate(j)
		}
	}
	e.place()
	e.maybeCompact()
}

// depState tells whether j's dependencies all succeeded (ready) or one of
// them failed (failed).
func (e *Engine) depState(j *job) (ready, failed bool) {
	ready = true
	check := func(t *job) {
		switch t.rec.Status {
		case engine.StatusSucceeded:
		case engine.StatusFailed:
			failed = true
			ready = false
		default:
			ready = false
		}
	}
	for _, d := range j.spec.DependsOn {
		switch d.Type {
		case depSequential:
			if j.parent != nil && j.index > 0 {
				check(j.parent.children[j.index-1])
			}
		case depNToN:
			if t := e.jobs[d.JobID]; t != nil && j.parent != nil && int(j.index) < len(t.children) {
				check(t.children[j.index])
			}
		default:
			if t := e.jobs[d.JobID]; t != nil {
				check(t)
			}
		}
	}
	return ready, failed
}

// evaluate moves a SUBMITTED or PENDING job on if its dependencies allow.
func (e *Engine) evaluate(j *job) {
	if j.isParent() {
		// Evaluated once after submission: its children exist and wait.
		if j.rec.Status == engine.StatusSubmitted {
			e.setParentStatus(j, engine.StatusPending)
		}
		return
	}
	switch j.rec.Status {
	case engine.StatusSubmitted, engine.StatusPending:
	default:
		return
	}
	ready, failed := e.depState(j)
	if !ready && !failed {
		if j.rec.Status == engine.StatusSubmitted {
			e.setStatus(j, engine.StatusPending)
		}
		return
	}
	switch {
	case j.rec.CancelReason != "":
		j.rec.IsCancelled = true
		e.fail(j, j.rec.CancelReason)
	case failed:
		e.fail(j, reasonDependentFailed)
	case j.spec.OverridesTooLong:
		e.fail(j, reasonOverridesLength)
	case j.spec.PropagateTags != nil && *j.spec.PropagateTags && e.propagatedTags(j) > maxTags:
		e.fail(j, reasonTooManyTags)
	default:
		e.makeRunnable(j)
	}
}

// makeRunnable queues j for placement, or fails it when it can never fit.
func (e *Engine) makeRunnable(j *job) {
	e.setStatus(j, engine.StatusRunnable)
	if !e.canEverFit(j) {
		e.fail(j, reasonCannotFit)
		return
	}
	j.elem = e.runnable.PushBack(j)
}

func (e *Engine) canEverFit(j *job) bool {
	return j.spec.GPUs == 0 && j.spec.CPUMilli <= int64(e.cfg.VCPUs)*1000 && j.spec.MemMiB <= int64(e.cfg.MemoryMiB)
}

// place starts the RUNNABLE jobs that fit, in queue order; a job that does
// not fit now does not block smaller ones behind it (backfill).
func (e *Engine) place() {
	for el := e.runnable.Front(); el != nil && e.freeCPU > 0; {
		next := el.Next()
		j := el.Value.(*job)
		if j.spec.CPUMilli <= e.freeCPU && j.spec.MemMiB <= e.freeMem {
			e.runnable.Remove(el)
			j.elem = nil
			e.freeCPU -= j.spec.CPUMilli
			e.freeMem -= j.spec.MemMiB
			e.startAttempt(j)
		}
		el = next
	}
}

func (e *Engine) release(j *job) {
	e.freeCPU += j.spec.CPUMilli
	e.freeMem += j.spec.MemMiB
}

// setStatus changes a plain job's or a child's status, keeps its parent's
// summary and status current, persists, and wakes dependents of a job that
// became terminal (under the lock).
func (e *Engine) setStatus(j *job, to engine.Status) {
	from := j.rec.Status
	if from == to {
		e.persist(j)
		return
	}
	if !engine.CanTransition(from, to) {
		e.log.Error("illegal job status change", "job", j.rec.ID, "from", from, "to", to)
	}
	j.rec.Status = to
	now := e.nowMS()
	if to.Terminal() {
		j.rec.StoppedAt = now
	}
	e.persist(j)
	if p := j.parent; p != nil {
		p.counts[statusIndex(from)]--
		p.counts[statusIndex(to)]++
		p.summaryAt = now
		if (to == engine.StatusRunning || to == engine.StatusStarting) && (p.rec.StartedAt == 0) {
			p.rec.StartedAt = now
		}
		e.updateParent(p)
	}
	if to.Terminal() {
		e.wake(j)
	}
}

// updateParent moves an array parent along its own lifecycle: PENDING once
// a child left PENDING, terminal once every child is.
func (e *Engine) updateParent(p *job) {
	if p.rec.Status.Terminal() {
		return
	}
	succeeded := p.counts[statusIndex(engine.StatusSucceeded)]
	failed := p.counts[statusIndex(engine.StatusFailed)]
	moved := p.counts[statusIndex(engine.StatusPending)] < p.spec.ArraySize
	if p.rec.Status == engine.StatusSubmitted && moved {
		e.setParentStatus(p, engine.StatusPending)
	}
	if succeeded+failed < p.spec.ArraySize {
		return
	}
	p.rec.StoppedAt = e.nowMS()
	if failed == 0 {
		e.setParentStatus(p, engine.StatusSucceeded)
	} else {
		p.rec.StatusReason = reasonArrayChild
		if p.rec.StopReason != "" {
			p.rec.StatusReason = p.rec.StopReason
		}
		e.setParentStatus(p, engine.StatusFailed)
	}
	e.wake(p)
}

func (e *Engine) setParentStatus(p *job, to engine.Status) {
	if !engine.CanTransitionParent(p.rec.Status, to) {
		e.log.Error("illegal array job status change", "job", p.rec.ID, "from", p.rec.Status, "to", to)
	}
	p.rec.Status = to
	e.persist(p)
}

// wake queues the jobs waiting for j for re-evaluation.
func (e *Engine) wake(j *job) {
	add := func(d *job) {
		if d.rec.Status == engine.StatusPending || d.rec.Status == engine.StatusSubmitted {
			e.todo = append(e.todo, d)
		}
	}
	for _, d := range j.dependents {
		if d.typ == depNToN {
			continue // handled per child below
		}
		for _, u := range d.j.units() {
			add(u)
		}
	}
	if p := j.parent; p != nil {
		for _, d := range p.dependents {
			if d.typ == depNToN && int(j.index) < len(d.j.children) {
				add(d.j.children[j.index])
			}
		}
		if p.spec.sequential() && int(j.index)+1 < len(p.children) {
			add(p.children[j.index+1])
		}
	}
	e.poke()
}

// fail ends j as FAILED with reason.
func (e *Engine) fail(j *job, reason string) {
	if j.elem != nil {
		e.runnable.Remove(j.elem)
		j.elem = nil
	}
	j.rec.StatusReason = reason
	e.setStatus(j, engine.StatusFailed)
}

// cancel implements CancelJob: jobs that have not reached STARTING are
// cancelled (a job still waiting for its dependencies once they complete);
// STARTING and RUNNING jobs are left alone.
func (e *Engine) cancel(j *job, reason string) {
	if j.isParent() {
		if !j.rec.Status.Terminal() {
			j.rec.StopReason = reason
			j.rec.IsCancelled = true
			e.persist(j)
		}
		for _, c := range j.children {
			e.cancel(c, reason)
		}
		return
	}
	switch j.rec.Status {
	case engine.StatusSubmitted, engine.StatusPending:
		ready, failed := e.depState(j)
		if !ready && !failed {
			j.rec.CancelReason = reason
			e.persist(j)
			return
		}
		j.rec.IsCancelled = true
		e.fail(j, reason)
	case engine.StatusRunnable:
		j.rec.IsCancelled = true
		e.fail(j, reason)
	}
}

// terminate implements TerminateJob: jobs not yet STARTING fail at once;
// STARTING and RUNNING jobs are killed (SIGTERM, then SIGKILL after the
// grace) and fail when their process is gone. Never retried.
func (e *Engine) terminate(j *job, reason string) {
	if j.isParent() {
		if !j.rec.Status.Terminal() {
			j.rec.StopReason = reason
			j.rec.IsTerminated = true
			e.persist(j)
		}
		for _, c := range j.children {
			e.terminate(c, reason)
		}
		return
	}
	switch j.rec.Status {
	case engine.StatusSubmitted, engine.StatusPending, engine.StatusRunnable:
		j.rec.IsTerminated = true
		e.fail(j, reason)
	case engine.StatusStarting, engine.StatusRunning:
		if r := j.run; r != nil && !r.terminated {
			r.terminated = true
			r.stopReason = reason
			e.killLocked(r)
		}
	}
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
