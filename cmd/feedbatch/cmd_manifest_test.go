package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
)

func TestManifestCommands(t *testing.T) {
	root := t.TempDir()
	st := mustOpen(t, root)
	day := testRows(5)
	if err := manifest.Save(t.Context(), st, manifest.Key("2026-11-23"), manifest.Meta{RunID: "2026-11-23"}, day, nil); err != nil {
		t.Fatal(err)
	}
	next := testRows(6)[1:] // shop-00 gone, shop-05 new
	for i := range next {
		next[i].Index = int64(i)
	}
	next[0].Name = "Renamed"
	next[1].Platforms = []string{"google", "naver"}
	if err := manifest.Save(t.Context(), st, manifest.Key("2026-11-24"), manifest.Meta{RunID: "2026-11-24"}, next, nil); err != nil {
		t.Fatal(err)
	}
	sub, _ := manifest.Subset(day, []int64{3, 1}, "2026-11-23")
	if err := manifest.Save(t.Context(), st, manifest.RerunKey("2026-11-23", "1"), manifest.Meta{RunID: "2026-11-23", Rerun: "1", OriginRun: "2026-11-23"}, sub, nil); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "runs", "2026-11-23", "manifest.parquet")

	tests := []struct {
		name string
		args []string
		code int
		want []string // substrings of stdout (or stderr for errors)
	}{
		{"show", []string{"manifest", "show", "2026-11-23"}, 0, []string{
			"run 2026-11-23: 5 shops", "INDEX  SHOP", "3      shop-03  Shop shop-03  csv https://shop-03.example  google  -"}},
		{"show rerun @", []string{"manifest", "show", "2026-11-23@1"}, 0, []string{"re-run 1", "0      shop-03", "2026-11-23#3", "2026-11-23#1"}},
		{"show rerun path", []string{"manifest", "show", "2026-11-23/reruns/1"}, 0, []string{"1      shop-01"}},
		{"show file path", []string{"manifest", "show", file}, 0, []string{"5 shops"}},
		{"show file url", []string{"manifest", "show", "file://" + filepath.ToSlash(file)}, 0, []string{"5 shops"}},
		{"get index", []string{"manifest", "get", "2026-11-23", "--index", "2"}, 0, []string{"shop           shop-02", "source.url     https://shop-02.example/f.csv"}},
		{"get shop", []string{"manifest", "get", "2026-11-24", "--shop", "shop-05"}, 0, []string{"index          4"}},
		{"diff", []string{"manifest", "diff", "2026-11-23", "2026-11-24"}, 0, []string{
			"1 added, 1 removed, 2 changed, 4 moved", "+  shop-05", "-  shop-00", "~  shop-01  Renamed", "name", "~  shop-02", "platforms"}},
		{"get out of range", []string{"manifest", "get", "2026-11-23", "--index", "5"}, exitUsage, []string{"index out of range"}},
		{"get bad index", []string{"manifest", "get", "2026-11-23", "--index", "x"}, exitUsage, []string{"--index"}},
		{"get both", []string{"manifest", "get", "2026-11-23", "--index", "1", "--shop", "a"}, exitUsage, []string{"one of"}},
		{"get unknown shop", []string{"manifest", "get", "2026-11-23", "--shop", "zzz"}, exitNotFound, []string{`shop "zzz"`}},
		{"missing run", []string{"manifest", "show", "2020-01-01"}, exitNotFound, []string{"not found"}},
		{"bad ref", []string{"manifest", "show", "../etc"}, exitUsage, []string{"not a run id"}},
		{"bad rerun", []string{"manifest", "show", "2026-11-23@x"}, exitUsage, []string{"re-run number"}},
		{"no args", []string{"manifest", "diff", "2026-11-23"}, exitUsage, []string{"want <a> <b>"}},
		{"unknown sub", []string{"manifest", "bogus"}, exitUsage, []string{"unknown manifest command"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCapture(t, append([]string{"--root", root}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			text := stdout
			if code != 0 {
				text = stderr
			}
			text = squeeze(text)
			for _, w := range tc.want {
				if !strings.Contains(text, squeeze(w)) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
		})
	}

	// A file URL that does not exist is not found, and no directory appears
	// for it (the store would create its root).
	t.Run("missing file url", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope")
		_, stderr, code := runCapture(t, "--root", root, "manifest", "show", "file://"+filepath.ToSlash(missing)+"/manifest.parquet")
		if code != exitNotFound || !strings.Contains(stderr, "not found") {
			t.Errorf("exit %d, want %d: %s", code, exitNotFound, stderr)
		}
		if _, err := os.Stat(missing); !os.IsNotExist(err) {
			t.Errorf("%s was created: %v", missing, err)
		}
	})

	t.Run("json", func(t *testing.T) {
		stdout, stderr, code := runCapture(t, "--root", root, "manifest", "get", "2026-11-23@1", "--index", "1", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var row manifest.Row
		if err := json.Unmarshal([]byte(stdout), &row); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sub[1], row); diff != "" {
			t.Errorf("row (-want +got):\n%s", diff)
		}
		stdout, _, _ = runCapture(t, "--root", root, "manifest", "diff", "2026-11-23", "2026-11-24", "--json")
		var d manifest.Diff
		if err := json.Unmarshal([]byte(stdout), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Added) != 1 || len(d.Removed) != 1 || len(d.Changed) != 2 {
			t.Errorf("diff json: %+v", d)
		}
	})
}

func TestManifestBuild(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "shops.yaml")
	if err := os.WriteFile(reg, []byte(`shops:
  - id: b-shop
    source: catalogs/b.csv
    platforms: [google]
  - id: a-shop
    name: A Shop
    source: https://a.example/feed.xml
    platforms: [meta, google]
    country: KR
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "catalogs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "catalogs", "b.csv"), []byte("id,title\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.parquet")
	_, stderr, code := runCapture(t, "--root", dir, "manifest", "build", "--registry", reg, "--run", "2026-12-01", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if fi, err := os.Stat(out); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Errorf("--out file mode %v, want 0644", fi.Mode().Perm())
	}
	stdout, stderr, code := runCapture(t, "manifest", "show", out)
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, stderr)
	}
	stdout = squeeze(stdout)
	for _, w := range []string{"run 2026-12-01: 2 shops", "0      a-shop  A Shop  xml https://a.example  google,meta", "1      b-shop  b-shop  csv b.csv"} {
		if !strings.Contains(stdout, squeeze(w)) {
			t.Errorf("show lacks %q:\n%s", w, stdout)
		}
	}
	// Without --out: the table only. Bad registry: one usage error with every problem.
	stdout, _, code = runCapture(t, "manifest", "build", "--registry", reg)
	if code != 0 || !strings.Contains(stdout, "2 shops") {
		t.Errorf("build without --out: exit %d\n%s", code, stdout)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("- id: A\n  source: ftp://x\n  platforms: [google]\n"), 0o644)
	_, stderr, code = runCapture(t, "manifest", "build", "--registry", bad)
	if code != exitUsage || !strings.Contains(stderr, `bad.yaml:1: shop "A": id: not safe`) || !strings.Contains(stderr, "unsupported scheme") {
		t.Errorf("bad registry: exit %d\n%s", code, stderr)
	}
}

// squeeze collapses runs of spaces, so tests do not depend on column widths.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
