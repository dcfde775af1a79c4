package main

import (
	"encoding/json"
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
