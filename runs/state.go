package runs

import "strings"

// State is what happened to one shop in one stage: the one vocabulary of
// status, the report and the summary. The engine's own words (SUBMITTED ...
// FAILED) map onto it with FromBatch.
type State string

// States.
const (
	// Pending: submitted and waiting (SUBMITTED, PENDING, RUNNABLE), or not
	// started because a stage it waits for has not finished.
	Pending State = "pending"
	// Running: started (STARTING, RUNNING), or queued with nothing in its
	// way when the engine cannot be asked.
	Running State = "running"
	// Succeeded and Failed: the child ran and ended so.
	Succeeded State = "succeeded"
	Failed    State = "failed"
	// Skipped: the child never ran because a stage it waits for failed
	// (AWS Batch fails it with "Dependent Job failed").
	Skipped State = "skipped"
	// Cancelled: an operator cancelled or terminated the child.
	Cancelled State = "cancelled"
	// Unknown: neither the engine nor a result record knows the child.
	Unknown State = "unknown"
)

// Terminal reports whether s is final.
func (s State) Terminal() bool {
	switch s {
	case Succeeded, Failed, Skipped, Cancelled:
		return true
	}
	return false
}

// ReasonDependentFailed is AWS Batch's statusReason of a job failed because
// one of its dependencies failed.
const ReasonDependentFailed = "Dependent Job failed"

// ReasonCancelledPrefix starts the statusReason of a child an operator
// cancelled or terminated (CancelJob/TerminateJob reasons given by
// feedbatch start so).
const ReasonCancelledPrefix = "cancelled"

// Batch job statuses, as the engine reports them.
const (
	BatchSubmitted = "SUBMITTED"
	BatchPending   = "PENDING"
	BatchRunnable  = "RUNNABLE"
	BatchStarting  = "STARTING"
	BatchRunning   = "RUNNING"
	BatchSucceeded = "SUCCEEDED"
	BatchFailed    = "FAILED"
)

// FromBatch maps an engine job status and its statusReason to a State.
func FromBatch(status, reason string) State {
	switch status {
	case BatchSucceeded:
		return Succeeded
	case BatchFailed:
		switch {
		case strings.HasPrefix(reason, ReasonDependentFailed):
			return Skipped
		case strings.HasPrefix(strings.ToLower(reason), ReasonCancelledPrefix):
			return Cancelled
		}
		return Failed
	case BatchStarting, BatchRunning:
		return Running
	case BatchSubmitted, BatchPending, BatchRunnable:
		return Pending
	case "":
		return Unknown
	}
	return Unknown
}
