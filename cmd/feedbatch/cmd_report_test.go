package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/store/filestore"
)

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	rows := []manifest.Row{
		{Index: 0, ShopID: "a", Name: "A", OriginIndex: -1, OutputPrefix: "shops/a/"},
		{Index: 1, ShopID: "b", Name: "B", OriginIndex: -1, OutputPrefix: "shops/b/"},
	}
	if err := manifest.Save(t.Context(), st, manifest.Key("2026-11-23"), manifest.Meta{RunID: "2026-11-23", CreatedAt: time.Now()}, rows, nil); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		app := newApp()
		var out bytes.Buffer
		app.Writer, app.ErrWriter = &out, &out
		t.Setenv("FEEDBATCH_ENGINE_DIR", filepath.Join(dir, ".engine"))
		err := app.RunContext(t.Context(), append([]string{"feedbatch", "--root", dir}, args...))
		return out.String(), exitCode(err)
	}
	out, code := run("report", "2026-11-23")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, out)
	}
	page := filepath.Join(dir, "runs", "2026-11-23", "report.html")
	if strings.TrimSpace(out) != "file://"+filepath.ToSlash(page) {
		t.Errorf("printed %q, want the page's file URL", out)
	}
	b, err := os.ReadFile(page)
	if err != nil || !bytes.Contains(b, []byte("feedbatch run 2026-11-23")) {
		t.Fatalf("page: %v", err)
	}
	if _, code := run("report", "2026-01-01"); code != exitNotFound {
		t.Errorf("missing run: exit %d, want %d", code, exitNotFound)
	}
	if _, code := run("report"); code != exitUsage {
		t.Errorf("no run: exit %d, want %d", code, exitUsage)
	}
}

func TestLogFileLink(t *testing.T) {
	eng := t.TempDir()
	stream := "feedbatch-collect/default/abc"
	p := filepath.Join(eng, "logs", filepath.FromSlash(stream))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("log"), 0o644); err != nil {
		t.Fatal(err)
	}
	reportDir := filepath.Join(eng, "..", "root", "runs", "r1")
	tests := []struct{ stream, want string }{
		{stream, "../../../" + filepath.Base(eng) + "/logs/feedbatch-collect/default/abc"},
		{"", ""},
		{"../../etc/passwd", ""},
		{"feedbatch-collect/default/missing", ""},
	}
	for _, tc := range tests {
		if got := logFileLink(eng, reportDir, tc.stream); got != tc.want {
			t.Errorf("logFileLink(%q) = %q, want %q", tc.stream, got, tc.want)
		}
	}
}
