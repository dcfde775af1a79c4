package memstore

import (
	"testing"

	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) store.Store { return New() })
}

func BenchmarkStore(b *testing.B) { storetest.RunBenchmarks(b, New()) }
