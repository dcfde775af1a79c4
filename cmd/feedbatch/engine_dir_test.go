package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEngineDirFromRoot: the local engine's directory derives from the root
// alone, the same from any working directory: beside a file:// root, in the
// user's cache directory keyed by an s3:// root; the directory of earlier
// versions (./feedbatch-engine) is still read when only it exists.
func TestEngineDirFromRoot(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", t.TempDir())
	data := t.TempDir()
	a, b := t.TempDir(), t.TempDir()

	dirs := map[string]string{}
	for _, cwd := range []string{a, b} {
		t.Chdir(cwd)
		for _, root := range []string{"s3://bucket/prefix", "file://" + filepath.ToSlash(data)} {
			d, err := resolveEngineDir("", root, readWrite)
			if err != nil {
				t.Fatal(err)
			}
			if prev, ok := dirs[root]; ok && prev != d {
				t.Errorf("root %s: %s from one directory, %s from another", root, prev, d)
			}
			dirs[root] = d
		}
	}
	s3dir := dirs["s3://bucket/prefix"]
	if filepath.Dir(s3dir) != filepath.Join(cache, "feedbatch", "engines") || len(filepath.Base(s3dir)) != 16 {
		t.Errorf("s3 engine dir %s, want %s/feedbatch/engines/<16 hex digits>", s3dir, cache)
	}
	if other, _ := resolveEngineDir("", "s3://bucket/other", readWrite); other == s3dir {
		t.Errorf("two roots share the engine directory %s", other)
	}
	if got := dirs["file://"+filepath.ToSlash(data)]; got != data+".engine" {
		t.Errorf("file engine dir %s, want %s.engine", got, data)
	}
	if d, _ := resolveEngineDir("e", "s3://bucket/prefix", readOnly); d != filepath.Join(b, "e") {
		t.Errorf("--engine-dir e from %s: %s", b, d)
	}

	// The directory of earlier versions is read (only) when only it exists.
	if err := os.Mkdir(filepath.Join(b, legacyEngineDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if d, _ := resolveEngineDir("", "s3://bucket/prefix", readOnly); d != filepath.Join(b, legacyEngineDir) {
		t.Errorf("read-only with only the legacy directory: %s", d)
	}
	if d, _ := resolveEngineDir("", "s3://bucket/prefix", readWrite); d != s3dir {
		t.Errorf("read-write: %s, want %s", d, s3dir)
	}
	if err := os.MkdirAll(s3dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if d, _ := resolveEngineDir("", "s3://bucket/prefix", readOnly); d != s3dir {
		t.Errorf("read-only with both: %s, want %s", d, s3dir)
	}
	if strings.Contains(s3dir, b) {
		t.Errorf("engine dir %s depends on the working directory", s3dir)
	}
}
