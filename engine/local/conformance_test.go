package local_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/engine/enginetest"
	"github.com/feedbatch/feedbatch/engine/internal/fakeclock"
	"github.com/feedbatch/feedbatch/engine/local"
)

// startEngine starts an engine for one test, closed at its end.
func startEngine(t *testing.T, cfg local.Config) (*local.Engine, string) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(failOnError{t: t, Handler: slog.NewTextHandler(io.Discard, nil)})
	}
	eng, ep, err := local.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := eng.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return eng, ep
}

// TestConformance runs the engine conformance suite against the local
// engine with the AWS values (a 60 s timeout minimum, a 30 s kill grace)
// on a clock the suite advances, so that the suite stays fast.
func TestConformance(t *testing.T) {
	enginetest.Run(t, func(t *testing.T) enginetest.Harness {
		clk := fakeclock.NewFollowing()
		eng, ep := startEngine(t, local.Config{VCPUs: 64, MemoryMiB: 64 << 10, Clock: clk})
		return enginetest.Harness{
			Client:            local.BatchClient(ep, eng.Credentials()),
			Logs:              local.LogsClient(ep, eng.Credentials()),
			LogGroup:          "/feedbatch/enginetest", // a custom awslogs-group
			Queue:             local.DefaultQueueName,
			MinTimeoutSeconds: local.DefaultMinTimeoutSeconds,
			KillGrace:         local.DefaultKillGrace,
			Advance:           clk.Advance,
			Poll:              20 * time.Millisecond,
		}
	})
}

// TestConformanceRealClock runs the timeout cases on the real clock, with
// the timeout minimum and the kill grace shortened.
func TestConformanceRealClock(t *testing.T) {
	enginetest.Run(t, func(t *testing.T) enginetest.Harness {
		eng, ep := startEngine(t, local.Config{
			VCPUs: 64, MemoryMiB: 64 << 10,
			KillGrace: time.Second, MinTimeoutSeconds: 1,
		})
		return enginetest.Harness{
			Client:            local.BatchClient(ep, eng.Credentials()),
			Queue:             local.DefaultQueueName,
			MinTimeoutSeconds: 1,
			KillGrace:         time.Second,
			Poll:              20 * time.Millisecond,
		}
	}, "Timeout", "TimeoutKill")
}

// failOnError fails the test on every error the engine logs (an illegal
// status change, a journal write error, a failed request).
type failOnError struct {
	t *testing.T
	slog.Handler
}

func (h failOnError) Enabled(context.Context, slog.Level) bool { return true }

func (h failOnError) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.t.Errorf("engine logged an error: %s", r.Message)
	}
	return nil
}
