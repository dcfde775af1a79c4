package engine

import (
	"errors"
	"fmt"
)

// Status is an AWS Batch job status. The values are the API's strings.
type Status string

// The seven job statuses of AWS Batch, in lifecycle order.
const (
	StatusSubmitted Status = "SUBMITTED"
	StatusPending   Status = "PENDING"
	StatusRunnable  Status = "RUNNABLE"
	StatusStarting  Status = "STARTING"
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
)

// Statuses lists every status in lifecycle order (the order of
// arrayProperties.statusSummary keys and of ListJobs status sweeps).
var Statuses = []Status{
	StatusSubmitted, StatusPending, StatusRunnable, StatusStarting,
	StatusRunning, StatusSucceeded, StatusFailed,
}

// ErrJobNotFound is returned (wrapped) when a job id is unknown to an engine.
// Check with errors.Is.
var ErrJobNotFound = errors.New("engine: job not found")

// Terminal reports whether s is SUCCEEDED or FAILED.
func (s Status) Terminal() bool { return s == StatusSucceeded || s == StatusFailed }

// Valid reports whether s is one of the seven statuses.
func (s Status) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// transitions is the one table of legal status changes of a plain job or an
// array child (AWS Batch user guide, "Job states"):
//
//	SUBMITTED -> PENDING (has dependencies; array children are born PENDING)
//	SUBMITTED -> RUNNABLE (no dependencies)
//	PENDING   -> RUNNABLE (dependencies succeeded)
//	RUNNABLE  -> STARTING (placed on the compute environment)
//	STARTING  -> RUNNING (process started)
//	STARTING/RUNNING -> RUNNABLE (attempt failed, attempts remain)
//	RUNNING   -> SUCCEEDED (exit 0)
//	any non-terminal -> FAILED (dependency failed, cancelled, terminated,
//	                            last attempt failed, timed out, cannot fit)
//
// Array parents use parentTransitions instead.
var transitions = map[Status][]Status{
	StatusSubmitted: {StatusPending, StatusRunnable, StatusFailed},
	StatusPending:   {StatusRunnable, StatusFailed},
	StatusRunnable:  {StatusStarting, StatusFailed},
	StatusStarting:  {StatusRunning, StatusRunnable, StatusFailed},
	StatusRunning:   {StatusSucceeded, StatusRunnable, StatusFailed},
	StatusSucceeded: nil,
	StatusFailed:    nil,
}

// parentTransitions: an array parent is only ever SUBMITTED, PENDING,
// SUCCEEDED or FAILED ("never enters a RUNNABLE or RUNNING status").
var parentTransitions = map[Status][]Status{
	StatusSubmitted: {StatusPending, StatusFailed},
	StatusPending:   {StatusSucceeded, StatusFailed},
}

// CanTransition reports whether a plain job or an array child may move from
// one status to another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CanTransitionParent reports whether an array parent may move from one
// status to another.
func CanTransitionParent(from, to Status) bool {
	for _, s := range parentTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// TransitionError is the error of an illegal status change: the change is
// not applied. Check with errors.As.
type TransitionError struct {
	From, To Status
	// Parent is set for an array parent's change (parent lifecycle).
	Parent bool
}

func (e *TransitionError) Error() string {
	what := "job"
	if e.Parent {
		what = "array parent"
	}
	return fmt.Sprintf("engine: illegal %s status change %s -> %s", what, e.From, e.To)
}

// Transition returns nil if a plain job or an array child may move from one
// status to another, else a *TransitionError.
func Transition(from, to Status) error {
	if CanTransition(from, to) {
		return nil
	}
	return &TransitionError{From: from, To: to}
}

// TransitionParent returns nil if an array parent may move from one status
// to another, else a *TransitionError.
func TransitionParent(from, to Status) error {
	if CanTransitionParent(from, to) {
		return nil
	}
	return &TransitionError{From: from, To: to, Parent: true}
}
