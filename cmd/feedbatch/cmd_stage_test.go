package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// runCapture runs the CLI in-process and returns stdout, stderr and the exit
// code.
func runCapture(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	app := newApp()
	var out, errb bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errb
	err := app.RunContext(t.Context(), append([]string{"feedbatch"}, args...))
	if err != nil {
		fmt.Fprintf(&errb, "feedbatch: %s\n", errorText(err))
	}
	return out.String(), errb.String(), exitCode(err)
}

// fakeStage records the job it got and returns err.
type fakeStage struct {
	err error
	got *stages.Job
}

func (fakeStage) Name() string { return "fake" }

func (s fakeStage) Run(ctx context.Context, job stages.Job) (stages.Result, error) {
	*s.got = job
	job.Log.Info("working", "step", 1)
	return stages.Result{ItemsIn: 3, ItemsOut: 2}, s.err
}

func testRows(n int) []manifest.Row {
	rows := make([]manifest.Row, n)
	for i := range rows {
		id := fmt.Sprintf("shop-%02d", i)
		rows[i] = manifest.Row{Index: int64(i), ShopID: id, Name: "Shop " + id, Source: manifest.Source{URL: "https://" + id + ".example/f.csv", Format: "csv"},
			Platforms: []string{"google"}, Currency: "USD", Country: "US", Image: manifest.DefaultImageSpec, OutputPrefix: "shops/" + id + "/", OriginIndex: -1}
	}
	return rows
}

func TestStageCommand(t *testing.T) {
	root := t.TempDir()
	st := mustOpen(t, root)
	day := manifest.Key("2026-11-23")
	if err := manifest.Save(t.Context(), st, day, manifest.Meta{RunID: "2026-11-23"}, testRows(12), nil); err != nil {
		t.Fatal(err)
	}
	sub, err := manifest.Subset(testRows(12), []int64{7, 3}, "2026-11-23")
	if err != nil {
		t.Fatal(err)
	}
	rerun := manifest.RerunKey("2026-11-23", "1")
	if err := manifest.Save(t.Context(), st, rerun, manifest.Meta{RunID: "2026-11-23", Rerun: "1", OriginRun: "2026-11-23"}, sub, nil); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		stageErr error
		wantCode int
		wantShop string // the row the stage got ("" = not run)
		wantRun  string
		wantLog  string // in stderr
		attempt  int
		force    bool
	}{
		{name: "array child", env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "4", "AWS_BATCH_JOB_ATTEMPT": "2"},
			wantShop: "shop-04", wantRun: "2026-11-23", attempt: 2},
		{name: "shard offset", env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "1", "FEEDBATCH_INDEX_OFFSET": "10"},
			wantShop: "shop-11", wantRun: "2026-11-23", attempt: 1},
		{name: "single job", env: map[string]string{"FEEDBATCH_INDEX": "9", "FEEDBATCH_FORCE": "1"},
			wantShop: "shop-09", wantRun: "2026-11-23", attempt: 1, force: true},
		{name: "index flag", args: []string{"--index", "0"}, wantShop: "shop-00", wantRun: "2026-11-23", attempt: 1},
		{name: "re-run manifest", env: map[string]string{"FEEDBATCH_MANIFEST": rerun, "AWS_BATCH_JOB_ARRAY_INDEX": "1"},
			wantShop: "shop-03", wantRun: "2026-11-23", attempt: 1},
		{name: "json logs", args: []string{"--index", "2"}, env: map[string]string{"FEEDBATCH_LOG_FORMAT": "json"},
			wantShop: "shop-02", wantRun: "2026-11-23", attempt: 1, wantLog: `"stage":"fake","index":2,"shop":"shop-02"`},
		{name: "retryable failure", env: map[string]string{"FEEDBATCH_INDEX": "5"}, stageErr: errors.New("connection reset"),
			wantCode: stages.ExitRetryable, wantShop: "shop-05", wantRun: "2026-11-23", attempt: 1, wantLog: "connection reset"},
		{name: "permanent failure", env: map[string]string{"FEEDBATCH_INDEX": "6"}, stageErr: stages.Permanentf("bad catalog"),
			wantCode: stages.ExitPermanent, wantShop: "shop-06", wantRun: "2026-11-23", attempt: 1, wantLog: "bad catalog"},
		{name: "no index", wantCode: exitUsage, wantLog: "no index"},
		{name: "garbage index", env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "x1"}, wantCode: exitUsage, wantLog: `AWS_BATCH_JOB_ARRAY_INDEX="x1"`},
		{name: "negative index", env: map[string]string{"FEEDBATCH_INDEX": "-1"}, wantCode: exitUsage, wantLog: "want a number >= 0"},
		{name: "garbage offset", env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "1", "FEEDBATCH_INDEX_OFFSET": "ten"}, wantCode: exitUsage},
		{name: "index past the end", env: map[string]string{"FEEDBATCH_INDEX": "12"}, wantCode: stages.ExitPermanent, wantLog: "index out of range"},
		{name: "no manifest", env: map[string]string{"FEEDBATCH_MANIFEST": "", "FEEDBATCH_INDEX": "1"}, wantCode: exitUsage},
		{name: "missing manifest", env: map[string]string{"FEEDBATCH_MANIFEST": "runs/nope/manifest.parquet", "FEEDBATCH_INDEX": "1"},
			wantCode: stages.ExitPermanent, wantLog: "not found"},
		{name: "unknown stage", args: []string{"nope"}, env: map[string]string{"FEEDBATCH_INDEX": "1"}, wantCode: exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ATTEMPT", "FEEDBATCH_INDEX", "FEEDBATCH_INDEX_OFFSET", "FEEDBATCH_FORCE", "FEEDBATCH_LOG_FORMAT"} {
				t.Setenv(k, "")
			}
			t.Setenv("FEEDBATCH_ROOT", root)
			t.Setenv("FEEDBATCH_MANIFEST", day)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var got stages.Job
			old := lookupStage
			t.Cleanup(func() { lookupStage = old })
			lookupStage = func(name string) (stages.Node, bool) {
				if name != "fake" {
					return stages.Node{}, false
				}
				return stages.Node{Stage: fakeStage{err: tc.stageErr, got: &got}}, true
			}
			args := []string{"stage", "fake"}
			if len(tc.args) > 0 && tc.args[0] == "nope" {
				args = []string{"stage"}
			}
			_, stderr, code := runCapture(t, append(args, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
			}
			if tc.wantLog != "" && !strings.Contains(stderr, tc.wantLog) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantLog, stderr)
			}
			if tc.wantShop == "" {
				if got.Row.ShopID != "" {
					t.Errorf("stage ran for %s", got.Row.ShopID)
				}
				return
			}
			type summary struct {
				Shop, Run, Manifest string
				Attempt             int
				Force               bool
			}
			wantKey := day
			if k := tc.env["FEEDBATCH_MANIFEST"]; k != "" {
				wantKey = k
			}
			if diff := cmp.Diff(summary{tc.wantShop, tc.wantRun, wantKey, tc.attempt, tc.force},
				summary{got.Row.ShopID, got.RunID, got.ManifestKey, got.Attempt, got.Force}); diff != "" {
				t.Errorf("job (-want +got):\n%s", diff)
			}
			// The result record is beside the manifest, with the outcome.
			var res stages.Result
			rc, err := st.Get(t.Context(), stages.ResultKey(got.ManifestKey, "fake", got.Row.Index))
			if err != nil {
				t.Fatalf("result record: %v", err)
			}
			defer rc.Close()
			if err := json.NewDecoder(rc).Decode(&res); err != nil {
				t.Fatal(err)
			}
			wantStatus := stages.StatusSucceeded
			if tc.stageErr != nil {
				wantStatus = stages.StatusFailed
			}
			if res.Status != wantStatus || res.ShopID != tc.wantShop || res.ItemsIn != 3 {
				t.Errorf("result record: status %s shop %s items_in %d", res.Status, res.ShopID, res.ItemsIn)
			}
		})
	}
}

func TestChildIndex(t *testing.T) {
	tests := []struct {
		explicit string
		env      map[string]string
		want     int64
		wantErr  bool
	}{
		{"", map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "0"}, 0, false},
		{"", map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "9999", "FEEDBATCH_INDEX_OFFSET": "20000"}, 29999, false},
		{"17", map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "3"}, 17, false},
		{"", nil, unknownIndex, true},
		{"", map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": " "}, unknownIndex, true},
		{"", map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "1e3"}, unknownIndex, true},
		{"-5", nil, unknownIndex, true},
		{"99999999999999999999", nil, unknownIndex, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.explicit, tc.env), func(t *testing.T) {
			got, err := childIndex(tc.explicit, func(k string) string { return tc.env[k] })
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("childIndex = %d, %v; want %d, error %t", got, err, tc.want, tc.wantErr)
			}
			if err != nil && exitCode(err) != exitUsage {
				t.Errorf("exit code %d, want usage", exitCode(err))
			}
		})
	}
}

func mustOpen(t *testing.T, root string) store.Store {
	t.Helper()
	st, err := openStore(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
