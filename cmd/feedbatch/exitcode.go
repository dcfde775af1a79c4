package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/finalize"
	"github.com/feedbatch/feedbatch/internal/secret"
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
	case errors.As(err, &ue), errors.As(err, &ec):
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
	return b.String()
}
