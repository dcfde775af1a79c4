package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/finalize"
	"github.com/feedbatch/feedbatch/internal/secret"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/notify"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/registry"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// Exit statuses of every command. A child's stage failure uses the stage exit
// contract (stages.ExitRetryable, stages.ExitPermanent) so that job
// definitions can retry only what is worth retrying.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitShopsFailed = 4
	exitNotFinished = 5 // finalize --if-finished: a stage job is not terminal yet
	exitCanceled    = 130
)

// usageError marks a user error in flags or arguments.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// errShopsFailed is returned when a run or re-run ended with failed shops.
var errShopsFailed = errors.New("some shops failed")

// errHelpShown ends a command whose help was asked for after its arguments.
var errHelpShown = errors.New("help shown")

// stageError carries a stage child's failure to the exit code.
type stageError struct{ err error }

func (e stageError) Error() string { return e.err.Error() }
func (e stageError) Unwrap() error { return e.err }

// usageSentinels are the errors of the packages below that mean "the
// command line asked for something that cannot be" (exit 2). Commands
// return them wrapped, never mapped: exitCode is the one switch.
var usageSentinels = []error{
	manifest.ErrIndexOutOfRange, // --index past the run's last shop
	planner.ErrNothingToRun,     // a re-run selection that chose nothing
	planner.ErrRunExists,        // run of a run id already submitted
	planner.ErrRunBusy,          // another planner holds the run
	planner.ErrBadRunID,         // --run or <run> not usable as an id
	registry.ErrInvalid,         // a registry with bad lines
	notify.ErrBadURL,            // --notify-webhook not an http(s) URL
}

// exitCode is the only place that maps errors to exit statuses.
func exitCode(err error) int {
	var ue usageError
	var se stageError
	var ec cli.ExitCoder
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return exitOK
	case errors.As(err, &se):
		// A child stopped by SIGTERM (Spot reclaim, scale-in) was
		// interrupted, not wrong: another attempt is worth it, whatever the
		// cut-short request made of the interruption.
		if errors.Is(err, context.Canceled) {
			return stages.ExitRetryable
		}
		if errors.Is(err, stages.ErrPermanent) || errors.Is(err, store.ErrInvalidKey) {
			return stages.ExitPermanent
		}
		return stages.ExitRetryable
	case errors.Is(err, context.Canceled):
		return exitCanceled
	case errors.As(err, &ue), errors.As(err, &ec), isAny(err, usageSentinels):
		// urfave/cli's only ExitCoder is "No help topic for 'x'".
		return exitUsage
	case errors.Is(err, store.ErrNotFound):
		return exitNotFound
	case errors.Is(err, errShopsFailed):
		return exitShopsFailed
	case errors.Is(err, finalize.ErrNotFinished):
		return exitNotFinished
	case errors.Is(err, finalize.ErrNotify):
		// The finalize job definition retries it (its claim was released).
		return stages.ExitRetryable
	}
	return exitError
}

func isAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// errorText is what the binary prints for a failed command: one line,
// except for a registry's problems, which are listed one per line under
// the first (the operator fixes them all before the next try).
func errorText(err error) string {
	if !errors.Is(err, registry.ErrInvalid) {
		return oneLine(err)
	}
	var b strings.Builder
	for line := range strings.Lines(secret.RedactText(err.Error())) {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(line)
	}
	return b.String()
}

// oneLine makes err fit on one line of a terminal. An interrupted command
// says so, rather than showing whichever request the interrupt cut short.
func oneLine(err error) string {
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	// Lines are list items (errors.Join, a registry's problems): keep
	// them apart with "; ".
	var b strings.Builder
	for line := range strings.Lines(secret.RedactText(err.Error())) {
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(line)
	}
	return sdkChain.ReplaceAllString(b.String(), "$1 $2: ")
}

// sdkChain is the AWS SDK's wrapping of a request error ("operation error
// Batch: DescribeJobs, exceeded maximum number of attempts, 8, https
// response error StatusCode: 0, RequestID: , request send failed, "): one
// line says "Batch DescribeJobs: " and what went wrong.
var sdkChain = regexp.MustCompile(`operation error ([A-Za-z0-9 ]+): ([A-Za-z0-9]+), (?:exceeded maximum number of attempts, \d+, )?(?:https? response error StatusCode: \d+, RequestID: [^,]*, )?(?:request send failed, )?`)
