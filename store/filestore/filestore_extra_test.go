package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/storetest"
)

func TestSymlinksCannotEscape(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "filelink")); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, key := range []string{"link/secret", "filelink"} {
		if rc, err := st.Get(ctx, key); err == nil {
			rc.Close()
			t.Errorf("Get(%q) read outside the root", key)
		}
		if _, err := st.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) reached outside the root", key)
		}
		if err := st.Delete(ctx, key); err == nil {
			t.Errorf("Delete(%q) succeeded", key)
		}
	}
	if err := st.Put(ctx, "link/planted", strings.NewReader("x"), nil); err == nil {
		t.Errorf("Put through a symlink succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Errorf("Put wrote outside the root")
	}
	var listed []string
	st.List(ctx, "", func(in store.Info) error { listed = append(listed, in.Key); return nil })
	if len(listed) != 0 {
		t.Errorf("List shows symlinks: %q", listed)
	}
}

func TestReservedTempKey(t *testing.T) {
	st, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{tmpDir, tmpDir + "/x"} {
		if err := st.Put(t.Context(), key, strings.NewReader("x"), nil); err == nil {
			t.Errorf("Put(%q) succeeded", key)
		}
	}
}

// TestFailedWriteLeavesNoTempFile checks the disk, not just List.
func TestFailedWriteLeavesNoTempFile(t *testing.T) {
	dir := t.TempDir()
	st, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Put(t.Context(), "a/b", &errReader{n: 100000}, nil)
	if err == nil {
		t.Fatal("Put with a failing body succeeded")
	}
	put := func(key string, opts *store.PutOptions) error {
		return st.Put(t.Context(), key, strings.NewReader("v"), opts)
	}
	if err := put("c", nil); err != nil {
		t.Fatal(err)
	}
	if err := put("c", &store.PutOptions{IfAbsent: true}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("IfAbsent over existing: %v", err)
	}
	var files []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, rel)
		}
		return nil
	})
	if len(files) != 1 || files[0] != "c" {
		t.Errorf("files on disk = %q, want only c", files)
	}
}

type errReader struct{ n int }

func (r *errReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), r.n)
	r.n -= n
	return n, nil
}

// TestIfAbsentAcrossProcesses races separate processes for one key.
func TestIfAbsentAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("FILESTORE_CLAIM_DIR"); dir != "" {
		claimChild(dir)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const procs = 4
	for round := range 2 {
		key := fmt.Sprintf("claims/%d", round)
		cmds := make([]*exec.Cmd, procs)
		outs := make([]*bytes.Buffer, procs)
		for i := range procs {
			outs[i] = &bytes.Buffer{}
			cmds[i] = exec.Command(exe, "-test.run=^TestIfAbsentAcrossProcesses$")
			cmds[i].Env = append(os.Environ(), "FILESTORE_CLAIM_DIR="+dir, "FILESTORE_CLAIM_KEY="+key, fmt.Sprintf("FILESTORE_CLAIM_ID=%d", i))
			cmds[i].Stdout = outs[i]
			cmds[i].Stderr = outs[i]
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		won := 0
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("child %d: %v\n%s", i, err, outs[i])
			}
			switch {
			case strings.Contains(outs[i].String(), "CLAIM won"):
				won++
			case strings.Contains(outs[i].String(), "CLAIM exists"):
			default:
				t.Fatalf("child %d said:\n%s", i, outs[i])
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d processes won the claim, want 1", round, won)
		}
	}
}

func claimChild(dir string) {
	st, err := New(dir)
	if err != nil {
		fmt.Println("CLAIM error", err)
		return
	}
	// Large enough that the writes overlap in time.
	body := storetest.NewStream(1, 1<<20)
	err = st.Put(context.Background(), os.Getenv("FILESTORE_CLAIM_KEY"), body, &store.PutOptions{IfAbsent: true})
	switch {
	case err == nil:
		fmt.Println("CLAIM won", os.Getenv("FILESTORE_CLAIM_ID"))
	case errors.Is(err, store.ErrExists):
		fmt.Println("CLAIM exists")
	default:
		fmt.Println("CLAIM error", err)
	}
}

// FuzzKey checks that no key, valid or not, writes outside the root or
// into the temp directory, and that an accepted key reads back.
func FuzzKey(f *testing.F) {
	for _, k := range []string{"a", "a/b/c.json", "../x", "a/../../x", "/etc/passwd", "a//b", ".", "..", "a\x00b", tmpDir + "/x", "a\\..\\b", "ü/ñ", "a/.hidden", "...", "a/..b"} {
		f.Add(k)
	}
	parent := f.TempDir()
	dir := filepath.Join(parent, "root")
	st, err := New(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := st.Put(t.Context(), key, strings.NewReader(key), nil)
		if err != nil {
			if store.CheckKey(key) == nil && !strings.HasPrefix(key+"/", tmpDir+"/") {
				// A valid key may still clash with a file/dir of another key.
				if !errors.Is(err, fs.ErrExist) && !strings.Contains(err.Error(), "not a directory") && !strings.Contains(err.Error(), "is a directory") && !strings.Contains(err.Error(), "file name too long") {
					t.Fatalf("Put(%q): %v", key, err)
				}
			}
			return
		}
		if err := store.CheckKey(key); err != nil {
			t.Fatalf("Put accepted invalid key %q", key)
		}
		rel, err := filepath.Rel(dir, filepath.Join(dir, filepath.FromSlash(key)))
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || rel == tmpDir || strings.HasPrefix(rel, tmpDir+"/") {
			t.Fatalf("key %q maps to %q outside the root", key, rel)
		}
		rc, err := st.Get(t.Context(), key)
		if err != nil {
			t.Fatalf("Get(%q) after Put: %v", key, err)
		}
		rc.Close()
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Fatalf("something was written beside the root: %v", entries)
		}
	})
}

func TestStaleTempFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, tmpDir, "crashed")
	fresh := filepath.Join(dir, tmpDir, "in-progress")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file removed: %v", err)
	}
}

func TestReadOnlyDirectoryOpensForReading(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k"), []byte("v"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	st, err := New(dir)
	if err != nil {
		t.Fatalf("New on a read-only directory: %v", err)
	}
	if _, err := st.Stat(t.Context(), "k"); err != nil {
		t.Errorf("Stat: %v", err)
	}
	if err := st.Put(t.Context(), "x", strings.NewReader("v"), nil); err == nil {
		t.Errorf("Put into a read-only directory succeeded")
	}
}

func TestMissingParentIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(filepath.Join(file, "sub")); err == nil {
		t.Errorf("New under a regular file succeeded")
	}
}
