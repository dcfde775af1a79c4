package filestore

import (
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
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

// TestPrivateModes: under a permissive umask the store still writes 0600
// files and 0700 directories (a manifest or run record is not for others).
func TestPrivateModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "root")
	st, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, key := range []string{"runs/r/manifest.parquet", "runs/r/results/collect/0.json", "shops/a/feeds/google.xml.gz"} {
		if err := st.Put(t.Context(), key, strings.NewReader("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %o, want %o", p, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
