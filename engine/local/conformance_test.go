package local_test

import (
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/engine/enginetest"
	"github.com/feedbatch/feedbatch/engine/local"
)

// startEngine starts an engine for one test, closed at its end.
func startEngine(t *testing.T, cfg local.Config) (*local.Engine, string) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
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
// engine, with the 60 s timeout minimum and the 30 s kill grace shortened
// so that the suite stays fast.
func TestConformance(t *testing.T) {
	enginetest.Run(t, func(t *testing.T) enginetest.Harness {
		_, ep := startEngine(t, local.Config{
			VCPUs: 64, MemoryMiB: 64 << 10,
			KillGrace: time.Second, MinTimeoutSeconds: 1,
		})
		return enginetest.Harness{
			Client:            local.BatchClient(ep),
			Queue:             local.DefaultQueueName,
			MinTimeoutSeconds: 1,
			KillGrace:         time.Second,
			Poll:              20 * time.Millisecond,
		}
	})
}
