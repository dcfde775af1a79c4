package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/all"
)

func TestOptionsCommand(t *testing.T) {
	stdout, stderr, code := runCapture(t, "options")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"OPTION", "feed.max_drop_share  ", "float", "0.5", "0..1",
		"feed.naver.default_shipping", "image.timeout", "1m0s", "collect.max_bad_share",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, code = runCapture(t, "options", "--json")
	var infos []optionInfo
	if err := json.Unmarshal([]byte(stdout), &infos); code != 0 || err != nil {
		t.Fatalf("--json: exit %d, %v:\n%s", code, err, stdout)
	}
	if len(infos) != len(all.Options()) {
		t.Errorf("%d options listed, %d declared", len(infos), len(all.Options()))
	}
	for _, o := range infos {
		if o.Doc == "" || o.Type == "" {
			t.Errorf("option %s lists no type or doc", o.Name)
		}
	}
}

// TestStageJobConfig: the child parses its row's options once into
// Job.Config; a row with an option no stage declares fails for good, with
// the reason recorded, before the stage runs.
func TestStageJobConfig(t *testing.T) {
	root := t.TempDir()
	st := mustOpen(t, root)
	rows := testRows(2)
	rows[0].Options = map[string]string{"feed.max_drop_share": "0.3"}
	rows[1].Options = map[string]string{"feed.max_drop_shar": "0.3"}
	day := manifest.Key("2026-11-23")
	if err := manifest.Save(t.Context(), st, day, manifest.Meta{RunID: "2026-11-23"}, rows, nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FEEDBATCH_ROOT", root)
	t.Setenv("FEEDBATCH_MANIFEST", day)
	var got stages.Job
	old := lookupStage
	t.Cleanup(func() { lookupStage = old })
	lookupStage = func(string) (stages.Node, bool) { return stages.Node{Stage: fakeStage{got: &got}}, true }

	if _, stderr, code := runCapture(t, "stage", "fake", "--index", "0"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got.Config.IsZero() || got.Config.Float("feed.max_drop_share") != 0.3 || got.Config.Float("collect.max_bad_share") != 0.2 {
		t.Errorf("Job.Config not filled from the row: %+v", got.Config)
	}

	got = stages.Job{}
	_, stderr, code := runCapture(t, "stage", "fake", "--index", "1")
	if code != stages.ExitPermanent || !strings.Contains(stderr, "did you mean feed.max_drop_share") {
		t.Fatalf("exit %d, want %d with a hint; stderr:\n%s", code, stages.ExitPermanent, stderr)
	}
	if got.Row.ShopID != "" {
		t.Error("the stage ran despite a bad option")
	}
	rc, err := st.Get(t.Context(), stages.ResultKey(day, "fake", 1))
	if err != nil {
		t.Fatalf("no result record: %v", err)
	}
	defer rc.Close()
	var res stages.Result
	if err := json.NewDecoder(rc).Decode(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != stages.StatusFailed || !res.Permanent || !strings.Contains(res.Error, "feed.max_drop_shar") {
		t.Errorf("result record: %+v", res)
	}
}

// TestRefusedBeforeSubmission: manifest build and plan refuse, before
// anything is written or submitted, what would certainly fail: an unknown
// option (with a hint), a bad value, a naver shop not in KRW, a local
// catalog that does not exist; every problem with its line, at once.
func TestRefusedBeforeSubmission(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "catalogs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "catalogs", "ok.csv"), []byte("id,title\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(dir, "shops.yaml")
	if err := os.WriteFile(reg, []byte(`shops:
  - id: typo
    source: catalogs/ok.csv
    platforms: [google]
    options:
      feed.max_drop_shar: "0.3"
  - id: naver-usd
    source: catalogs/ok.csv
    platforms: [naver]
    currency: USD
  - id: missing
    source: catalogs/nope.csv
    platforms: [google]
    options: {image.timeout: forever}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root")
	wants := []string{
		"4 problem(s)",
		`shops.yaml:6: shop "typo": options: feed.max_drop_shar="0.3": unknown option (did you mean feed.max_drop_share?)`,
		`shops.yaml:10: shop "naver-usd": currency: currency USD: platform naver takes only KRW`,
		`shops.yaml:12: shop "missing": source.url: "catalogs/nope.csv": no such file`,
		`shops.yaml:14: shop "missing": options: image.timeout="forever": want a duration`,
	}
	for _, args := range [][]string{
		{"--root", root, "manifest", "build", "--registry", reg, "--out", filepath.Join(dir, "m.parquet")},
		{"--root", root, "plan", "--engine", "local", "--registry", reg, "--run", "2026-11-23"},
	} {
		t.Run(args[2], func(t *testing.T) {
			// An endpoint nothing listens on: the plan must stop before it.
			t.Setenv("FEEDBATCH_BATCH_ENDPOINT", "http://127.0.0.1:9")
			_, stderr, code := runCapture(t, args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d:\n%s", code, exitUsage, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != len(wants) {
				t.Errorf("%d lines, want %d (a heading and one per problem):\n%s", len(lines), len(wants), stderr)
			}
			for i, w := range wants {
				if i >= len(lines) || !strings.Contains(lines[i], w) {
					t.Errorf("line %d lacks %q:\n%s", i+1, w, stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "m.parquet")); err == nil {
				t.Error("a manifest was written")
			}
			if _, err := os.Stat(filepath.Join(root, "runs", "2026-11-23")); err == nil {
				t.Error("the run was planned")
			}
		})
	}
}
