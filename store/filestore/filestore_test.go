package filestore

import (
	"testing"

	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/storetest"
)

func newStore(t *testing.T) store.Store {
	st, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

func BenchmarkStore(b *testing.B) {
	st, err := New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	storetest.RunBenchmarks(b, st)
}
