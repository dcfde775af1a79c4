package local

import (
	"errors"
	"fmt"

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

// pass does one round of scheduling (under the lock). An illegal status
// change is a bug: it is not applied, and logged.
func (e *Engine) pass() {
	for len(e.todo) > 0 {
		todo := e.todo
		e.todo = nil
		for _, j := range todo {
			if err := e.evaluate(j); err != nil {
				e.logBug(err)
			}
		}
	}
	e.place()
	e.maybeCompact()
}

// logBug logs an illegal status change that was refused.
func (e *Engine) logBug(err error) {
	e.log.Error("status change refused", "err", err)
}

// depState is where j's dependencies stand (under the lock).
func (e *Engine) depState(j *job) depState {
	targets := depTargets(j, func(id string) *job { return e.jobs[id] })
	statuses := make([]engine.Status, len(targets))
	for i, t := range targets {
		statuses[i] = t.rec.Status
	}
	return depsOf(statuses)
}

// evaluate moves a SUBMITTED or PENDING job on if its dependencies allow.
func (e *Engine) evaluate(j *job) error {
	if j.isParent() {
		// Evaluated once after submission: its children exist and wait.
		if j.rec.Status == engine.StatusSubmitted {
			return e.setParentStatus(j, engine.StatusPending, "")
		}
		return nil
	}
	switch j.rec.Status {
	case engine.StatusSubmitted, engine.StatusPending:
	default:
		return nil
	}
	f := waitingFacts{
		status:       j.rec.Status,
		deps:         e.depState(j),
		cancelReason: j.rec.CancelReason,
		overridesBad: j.spec.OverridesTooLong,
	}
	if f.deps != depsWaiting && j.spec.PropagateTags != nil && *j.spec.PropagateTags {
		f.tooManyTags = e.propagatedTags(j) > maxTags
	}
	next, reason, cancelled := decideWaiting(f)
	switch next {
	case j.rec.Status:
		return nil
	case engine.StatusPending:
		return e.setStatus(j, next)
	case engine.StatusRunnable:
		return e.makeRunnable(j)
	}
	return e.fail(j, reason, cancelled)
}

// makeRunnable queues j for placement, or fails it when it can never fit.
func (e *Engine) makeRunnable(j *job) error {
	if err := e.setStatus(j, engine.StatusRunnable); err != nil {
		return err
	}
	if !fitsCE(j.spec, e.cfg.VCPUs, e.cfg.MemoryMiB) {
		return e.fail(j, reasonCannotFit, false)
	}
	j.elem = e.runnable.PushBack(j)
	return nil
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
			if err := e.startAttempt(j); err != nil {
				e.logBug(err)
			}
		}
		el = next
	}
}

func (e *Engine) reserve(j *job) {
	e.freeCPU -= j.spec.CPUMilli
	e.freeMem -= j.spec.MemMiB
}

func (e *Engine) release(j *job) {
	e.freeCPU += j.spec.CPUMilli
	e.freeMem += j.spec.MemMiB
}

// setStatus changes a plain job's or a child's status, keeps its parent's
// summary and status current, persists, and wakes dependents of a job that
// became terminal (under the lock). An illegal change returns a
// *engine.TransitionError and changes nothing.
func (e *Engine) setStatus(j *job, to engine.Status) error {
	from := j.rec.Status
	if from == to {
		e.persist(j)
		return nil
	}
	if err := engine.Transition(from, to); err != nil {
		return fmt.Errorf("job %s: %w", j.rec.ID, err)
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
		if err := e.updateParent(p); err != nil {
			return err
		}
	}
	if to.Terminal() {
		e.wake(j)
	}
	return nil
}

// updateParent moves an array parent along its own lifecycle (see
// decideParent); it passes through PENDING on its way to a terminal
// status.
func (e *Engine) updateParent(p *job) error {
	next, reason := decideParent(p.rec.Status, p.counts, p.spec.ArraySize, p.rec.StopReason)
	if next == p.rec.Status {
		return nil
	}
	if p.rec.Status == engine.StatusSubmitted {
		if err := e.setParentStatus(p, engine.StatusPending, ""); err != nil {
			return err
		}
		if next == engine.StatusPending {
			return nil
		}
	}
	if err := e.setParentStatus(p, next, reason); err != nil {
		return err
	}
	e.wake(p)
	return nil
}

// setParentStatus changes an array parent's status (and, when it ends,
// its stop time and reason). An illegal change returns a
// *engine.TransitionError and changes nothing.
func (e *Engine) setParentStatus(p *job, to engine.Status, reason string) error {
	if err := engine.TransitionParent(p.rec.Status, to); err != nil {
		return fmt.Errorf("array job %s: %w", p.rec.ID, err)
	}
	if to.Terminal() {
		p.rec.StoppedAt = e.nowMS()
		if reason != "" {
			p.rec.StatusReason = reason
		}
	}
	p.rec.Status = to
	e.persist(p)
	return nil
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

// fail ends j as FAILED with reason (cancelled: by CancelJob). An illegal
// change returns an error and changes nothing.
func (e *Engine) fail(j *job, reason string, cancelled bool) error {
	if err := engine.Transition(j.rec.Status, engine.StatusFailed); err != nil {
		return fmt.Errorf("job %s: %w", j.rec.ID, err)
	}
	if j.elem != nil {
		e.runnable.Remove(j.elem)
		j.elem = nil
	}
	if cancelled {
		j.rec.IsCancelled = true
	}
	j.rec.StatusReason = reason
	return e.setStatus(j, engine.StatusFailed)
}

// cancel implements CancelJob: jobs that have not reached STARTING are
// cancelled (a job still waiting for its dependencies once they complete);
// STARTING and RUNNING jobs are left alone.
func (e *Engine) cancel(j *job, reason string) error {
	if j.isParent() {
		if !j.rec.Status.Terminal() {
			j.rec.StopReason = reason
			j.rec.IsCancelled = true
			e.persist(j)
		}
		var errs []error
		for _, c := range j.children {
			errs = append(errs, e.cancel(c, reason))
		}
		return errors.Join(errs...)
	}
	switch j.rec.Status {
	case engine.StatusSubmitted, engine.StatusPending:
		if e.depState(j) == depsWaiting {
			j.rec.CancelReason = reason
			e.persist(j)
			return nil
		}
		return e.fail(j, reason, true)
	case engine.StatusRunnable:
		return e.fail(j, reason, true)
	}
	return nil
}

// terminate implements TerminateJob: jobs not yet STARTING fail at once;
// STARTING and RUNNING jobs are killed (SIGTERM, then SIGKILL after the
// grace) and fail when their process is gone. Never retried.
func (e *Engine) terminate(j *job, reason string) error {
	if j.isParent() {
		if !j.rec.Status.Terminal() {
			j.rec.StopReason = reason
			j.rec.IsTerminated = true
			e.persist(j)
		}
		var errs []error
		for _, c := range j.children {
			errs = append(errs, e.terminate(c, reason))
		}
		return errors.Join(errs...)
	}
	switch j.rec.Status {
	case engine.StatusSubmitted, engine.StatusPending, engine.StatusRunnable:
		if err := engine.Transition(j.rec.Status, engine.StatusFailed); err != nil {
			return fmt.Errorf("job %s: %w", j.rec.ID, err)
		}
		j.rec.IsTerminated = true
		return e.fail(j, reason, false)
	case engine.StatusStarting, engine.StatusRunning:
		if r := j.run; r != nil && !r.terminated {
			r.terminated = true
			r.stopReason = reason
			e.stopLocked(r)
		}
	}
	return nil
}
