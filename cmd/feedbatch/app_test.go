package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// runApp runs the CLI in-process and returns its error and exit code.
func runApp(t *testing.T, args ...string) (error, int) {
	t.Helper()
	app := newApp()
	app.Writer = io.Discard
	app.ErrWriter = io.Discard
	err := app.RunContext(t.Context(), append([]string{"feedbatch"}, args...))
	return err, exitCode(err)
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	err, code := runApp(t, "no-such-command")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d (err %v)", code, exitUsage, err)
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range newApp().Commands {
		t.Run(c.Name, func(t *testing.T) {
			if c.Usage == "" {
				t.Errorf("command %q has no usage text", c.Name)
			}
			if err, code := runApp(t, c.Name, "--help"); code != exitOK {
				t.Errorf("%s --help: exit %d: %v", c.Name, code, err)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"canceled", fmt.Errorf("wait: %w", context.Canceled), exitCanceled},
		{"usage", usagef("bad flag"), exitUsage},
		{"not found", fmt.Errorf("get: %w", store.ErrNotFound), exitNotFound},
		{"shops failed", fmt.Errorf("run: %w", errShopsFailed), exitShopsFailed},
		{"stage retryable", stageError{errors.New("timeout")}, stages.ExitRetryable},
		{"stage permanent", stageError{stages.Permanentf("bad catalog")}, stages.ExitPermanent},
		{"other", errors.New("boom"), exitError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(tc.err); got != tc.want {
				t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	got := oneLine(errors.New("a\n  b\tc"))
	if got != "a b c" || bytes.ContainsAny([]byte(got), "\n\t") {
		t.Errorf("oneLine = %q", got)
	}
}
