package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/store"
)

// runAppOut runs the CLI in-process and returns stdout, stderr and the exit
// code.
func runAppOut(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.RunContext(t.Context(), append([]string{"feedbatch"}, args...))
	if err != nil {
		fmt.Fprintf(&errOut, "feedbatch: %s\n", errorText(err))
	}
	if testing.Verbose() {
		t.Logf("feedbatch %s: exit %d\n%s%s", strings.Join(args, " "), exitCode(err), out.String(), errOut.String())
	}
	return out.String(), errOut.String(), exitCode(err)
}

// shStage is a trivial stage for engine-level tests: it writes the result
// record a real stage writes (runs/<run>/[reruns/<k>/]results/<stage>/<i>.json)
// and fails with exit 65 for the daily run's indexes listed in FAIL.
const shStage = `set -e
i=${FEEDBATCH_INDEX:-$((AWS_BATCH_JOB_ARRAY_INDEX + ${FEEDBATCH_INDEX_OFFSET:-0}))}
dir=$(dirname "$FEEDBATCH_MANIFEST")
case ",$FAIL," in *",$i,"*) [ "$dir" = "runs/$RUN" ] && { echo "stage $0 index $i: injected failure" >&2; exit 65; } ;; esac
d=${FEEDBATCH_ROOT#file://}/$dir/results/$0
mkdir -p "$d"
printf '{"stage":"%s","index":%s,"status":"succeeded","attempt":%s}' "$0" "$i" "$AWS_BATCH_JOB_ATTEMPT" > "$d/$i.json.tmp"
mv "$d/$i.json.tmp" "$d/$i.json"
echo "stage $0 index $i done"`

// registerShStages registers feedbatch-collect/feed/image as shStage in the
// engine state directory dir (fail: the feed indexes that fail).
func registerShStages(t *testing.T, dir, run, fail string) {
	t.Helper()
	registerShStagesWith(t, dir, run, fail, "")
}

// registerShStagesWith is registerShStages with a shell prefix (e.g. a
// sleep) before the stage's work. Lost hosts are retried, as in the
// template's job definitions; application failures are not.
func registerShStagesWith(t *testing.T, dir, run, fail, prefix string) {
	t.Helper()
	eng, ep, err := local.Start(t.Context(), local.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	api := local.BatchClient(ep, eng.Credentials())
	for _, stage := range []string{"collect", "feed", "image"} {
		env := []types.KeyValuePair{{Name: aws.String("RUN"), Value: aws.String(run)}}
		if stage == "feed" {
			env = append(env, types.KeyValuePair{Name: aws.String("FAIL"), Value: aws.String(fail)})
		}
		_, err := api.RegisterJobDefinition(t.Context(), &batch.RegisterJobDefinitionInput{
			JobDefinitionName: aws.String("feedbatch-" + stage),
			Type:              types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{
				Image:       aws.String("local"),
				Command:     []string{"sh", "-c", prefix + shStage, stage},
				Environment: env,
				ResourceRequirements: []types.ResourceRequirement{
					{Type: types.ResourceTypeVcpu, Value: aws.String("0.25")},
					{Type: types.ResourceTypeMemory, Value: aws.String("16")},
				},
			},
			RetryStrategy: &types.RetryStrategy{Attempts: aws.Int32(3), EvaluateOnExit: []types.EvaluateOnExit{
				{Action: types.RetryActionRetry, OnStatusReason: aws.String("Host EC2*")},
				{Action: types.RetryActionExit, OnExitCode: aws.String("*")},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// fakeRegistry makes loadRegistry return n generated shops for the test.
func fakeRegistry(t *testing.T, n int) {
	t.Helper()
	old := loadRegistry
	t.Cleanup(func() { loadRegistry = old })
	loadRegistry = func(context.Context, string, store.Store) ([]manifest.Row, error) {
		rows := make([]manifest.Row, n)
		for i := range rows {
			id := fmt.Sprintf("shop-%05d", i)
			rows[i] = manifest.Row{Index: int64(i), ShopID: id, Name: id, Source: manifest.Source{URL: "file:///dev/null", Format: "csv"},
				Platforms: []string{"google"}, Currency: "EUR", Country: "DE", Image: manifest.DefaultImageSpec, OutputPrefix: "shops/" + id + "/", OriginIndex: -1}
		}
		return rows, nil
	}
}

// resultIndexes lists the indexes that have a result record under dir/stage.
func resultIndexes(t *testing.T, root, dir, stage string) []int64 {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, dir, "results", stage))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	var out []int64
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			continue // a child writing right now
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(e.Name(), ".json"), 10, 64)
		if err != nil {
			t.Fatalf("stray file %s", e.Name())
		}
		out = append(out, n)
	}
	return sortedInts(out)
}

func sortedInts(s []int64) []int64 {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func upTo(n int64, except ...int64) []int64 {
	var out []int64
	for i := range n {
		skip := false
		for _, e := range except {
			skip = skip || e == i
		}
		if !skip {
			out = append(out, i)
		}
	}
	return out
}

// TestRunFailRerunStatus drives the CLI against the local engine in-process:
// a run where feed fails for two shops (exit 4, failed list), status, logs,
// a dry run, a re-run of exactly the failed shops, and a second plan of the
// same run id that submits nothing.
func TestRunFailRerunStatus(t *testing.T) {
	testtool.Slow(t, "runs the pipeline end to end")
	const n, run = 60, "e2e"
	dir := t.TempDir()
	root, engDir := filepath.Join(dir, "root"), filepath.Join(dir, "engine")
	registerShStages(t, engDir, run, "17,40")
	fakeRegistry(t, n)
	t.Setenv(envBatchEndpoint, "")
	common := []string{"--root", root}
	engineArgs := []string{"--engine", "local", "--engine-dir", engDir, "--register=false", "--poll", "50ms"}

	start := time.Now()
	out, errOut, code := runAppOut(t, append(common, append([]string{"run", "--run", run}, engineArgs...)...)...)
	t.Logf("run of %d shops: %s", n, time.Since(start))
	if code != exitShopsFailed {
		t.Fatalf("run exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitShopsFailed, out, errOut)
	}
	for _, want := range []string{"failed feed: 17,40", "feed     60     58         2       0"} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}
	runDir := "runs/" + run
	if diff := cmp.Diff(upTo(n), resultIndexes(t, root, runDir, "collect")); diff != "" {
		t.Errorf("collect results -want +got:\n%s", diff)
	}
	if diff := cmp.Diff(upTo(n, 17, 40), resultIndexes(t, root, runDir, "feed")); diff != "" {
		t.Errorf("feed results -want +got:\n%s", diff)
	}

	// A second plan of the same run id submits nothing.
	out, errOut, code = runAppOut(t, append(common, append([]string{"run", "--run", run}, engineArgs...)...)...)
	if code != exitUsage || !strings.Contains(errOut, "already planned") {
		t.Errorf("second run: exit %d\n%s%s", code, out, errOut)
	}

	// Failed shops: exit 4, as run's, so that `plan && status --wait` works in a script.
	out, _, code = runAppOut(t, append(common, append([]string{"status", run}, engineArgs[:4]...)...)...)
	if code != exitShopsFailed || !strings.Contains(out, "failed feed: 17,40") {
		t.Errorf("status exit %d:\n%s", code, out)
	}
	out, _, code = runAppOut(t, append(common, append([]string{"logs", run, "--stage", "feed", "--index", "17"}, engineArgs[:4]...)...)...)
	if code != 0 || !strings.Contains(out, "stage feed index 17: injected failure") {
		t.Errorf("logs exit %d:\n%s", code, out)
	}

	out, _, code = runAppOut(t, append(common, append([]string{"rerun", run, "--failed", "--dry-run"}, engineArgs...)...)...)
	if code != 0 || !strings.Contains(out, "would submit (dry run) 1 jobs") || !strings.Contains(out, "stages feed; indexes 17,40") {
		t.Errorf("dry run exit %d:\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, runDir, "reruns")); !os.IsNotExist(err) {
		t.Errorf("dry run wrote reruns/: %v", err)
	}

	out, errOut, code = runAppOut(t, append(common, append([]string{"rerun", run, "--failed"}, engineArgs...)...)...)
	if code != 0 {
		t.Fatalf("rerun exit %d:\n%s%s", code, out, errOut)
	}
	// Exactly the failed shops ran again, in feed only; nothing else moved.
	if diff := cmp.Diff([]int64{0, 1}, resultIndexes(t, root, runDir+"/reruns/1", "feed")); diff != "" {
		t.Errorf("re-run feed results -want +got:\n%s", diff)
	}
	for _, stage := range []string{"collect", "image"} {
		if got := resultIndexes(t, root, runDir+"/reruns/1", stage); got != nil {
			t.Errorf("re-run touched %s: %v", stage, got)
		}
	}
	rows, _, err := manifest.ReadAll(t.Context(), mustStore(t, root), runDir+"/reruns/1/manifest.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].OriginIndex != 17 || rows[1].OriginIndex != 40 || rows[1].ShopID != "shop-00040" {
		t.Errorf("re-run manifest rows: %+v", rows)
	}

	// By index, flags after the run id as the docs write them.
	out, errOut, code = runAppOut(t, append(common, append([]string{"rerun", run, "--index", "3,10-12", "--stage", "feed,image"}, engineArgs...)...)...)
	if code != 0 {
		t.Fatalf("rerun --index exit %d:\n%s%s", code, out, errOut)
	}
	for stage, want := range map[string][]int64{"collect": nil, "feed": {0, 1, 2, 3}, "image": {0, 1, 2, 3}} {
		if diff := cmp.Diff(want, resultIndexes(t, root, runDir+"/reruns/2", stage)); diff != "" {
			t.Errorf("re-run 2 %s results -want +got:\n%s", stage, diff)
		}
	}
	rows, _, err = manifest.ReadAll(t.Context(), mustStore(t, root), runDir+"/reruns/2/manifest.parquet")
	if err != nil {
		t.Fatal(err)
	}
	var origins []int64
	for _, r := range rows {
		origins = append(origins, r.OriginIndex)
	}
	if diff := cmp.Diff([]int64{3, 10, 11, 12}, origins); diff != "" {
		t.Errorf("re-run 2 origins -want +got:\n%s", diff)
	}
	// The daily run's own results are untouched.
	if diff := cmp.Diff(upTo(n, 17, 40), resultIndexes(t, root, runDir, "feed")); diff != "" {
		t.Errorf("daily feed results changed -want +got:\n%s", diff)
	}

	out, _, code = runAppOut(t, append(common, append([]string{"status", run, "--json"}, engineArgs[:4]...)...)...)
	if code != 0 || strings.Contains(out, `"failed": {
    "feed"`) {
		t.Errorf("status after re-run exit %d:\n%s", code, out[:min(len(out), 2000)])
	}
	// Nothing failed any more: --failed again is safe, submits and writes nothing.
	out, errOut, code = runAppOut(t, append(common, append([]string{"rerun", run, "--failed"}, engineArgs...)...)...)
	if code != 0 || !strings.Contains(out, "no failed shop") {
		t.Errorf("second rerun --failed: exit %d:\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, runDir, "reruns", "3")); !os.IsNotExist(err) {
		t.Errorf("second rerun --failed wrote reruns/3: %v", err)
	}
	out, _, _ = runAppOut(t, append(common, append([]string{"status", run, "--index", "17"}, engineArgs[:4]...)...)...)
	if !strings.Contains(out, "re-run 1 #0") || !strings.Contains(out, "earlier") {
		t.Errorf("status --index 17 lacks the shop's story:\n%s", out)
	}
}

func mustStore(t *testing.T, root string) store.Store {
	t.Helper()
	st, err := openStore(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRunManyShopsLosesNoIndex runs the pipeline over many shops with a
// trivial stage and checks that every stage wrote exactly one result per
// index. FEEDBATCH_E2E_SHOPS sets the count (default 300, which keeps the
// test short on two cores; 10,000 is one full array: see README).
func TestRunManyShopsLosesNoIndex(t *testing.T) {
	testtool.Slow(t, "runs the pipeline over hundreds of shops")
	n := 300
	if s := os.Getenv("FEEDBATCH_E2E_SHOPS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("FEEDBATCH_E2E_SHOPS=%q", s)
		}
		n = v
	}
	const run = "many"
	dir := t.TempDir()
	root, engDir := filepath.Join(dir, "root"), filepath.Join(dir, "engine")
	registerShStages(t, engDir, run, "")
	fakeRegistry(t, n)
	t.Setenv(envBatchEndpoint, "")
	start := time.Now()
	out, errOut, code := runAppOut(t, "--root", root, "--log-level", "warn", "run", "--run", run, "--engine-dir", engDir, "--register=false", "--poll", "250ms")
	elapsed := time.Since(start)
	if code != 0 {
		t.Fatalf("run exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("feedbatch run over %d shops x 3 stages: %s (%.2f ms per child)", n, elapsed, float64(elapsed.Milliseconds())/float64(3*n))
	for _, stage := range []string{"collect", "feed", "image"} {
		got := resultIndexes(t, root, "runs/"+run, stage)
		if diff := cmp.Diff(upTo(int64(n)), got); diff != "" {
			t.Errorf("%s results -want +got:\n%s", stage, diff)
		}
		if want := fmt.Sprintf("%s  %d", stage, n); !strings.Contains(strings.Join(strings.Fields(out), "  "), want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// TestRunRealStagesFromTemplate runs `feedbatch run` as a user would: the
// job definitions of cfn/template.yaml registered with the in-process local
// engine, the real collect, feed and image stages as child processes. Image
// links point at a closed loopback port, which the image stage's SSRF guard
// refuses without a packet leaving the machine.
func TestRunRealStagesFromTemplate(t *testing.T) {
	testtool.Slow(t, "runs the pipeline end to end")
	dir := t.TempDir()
	catalog := "id,title,description,link,image_link,price,availability,brand,gtin\n" +
		"A1,Red Shirt,Soft cotton,https://shop.example/a1,https://127.0.0.1:1/a1.jpg,59.00 EUR,in stock,Acme,0012345678905\n" +
		"A2,Blue Shirt,Warm wool,https://shop.example/a2,https://127.0.0.1:1/a2.jpg,19.50 EUR,out of stock,Acme,\n"
	if err := os.WriteFile(filepath.Join(dir, "shop.csv"), []byte(catalog), 0o644); err != nil {
		t.Fatal(err)
	}
	// shop-b's catalog has no usable row: collect fails (a missing file
	// would be refused before the run is planned).
	if err := os.WriteFile(filepath.Join(dir, "broken.csv"), []byte("id,title\nB1,Thing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shops := `shops:
  - id: shop-a
    name: Shop A
    source: shop.csv
    platforms: [google, meta]
    country: DE
    currency: EUR
    options: {image.max_fail_share: "1"}
  - id: shop-b
    name: Shop B
    source: broken.csv
    platforms: [google]
    country: DE
    currency: EUR
`
	reg := filepath.Join(dir, "shops.yaml")
	if err := os.WriteFile(reg, []byte(shops), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envTestChild, "app")
	t.Setenv(envBatchEndpoint, "")
	root := filepath.Join(dir, "root")
	out, errOut, code := runAppOut(t, "--root", root, "run", "--registry", reg, "--run", "real", "--vcpus", "4", "--poll", "100ms")
	if code != exitShopsFailed {
		t.Fatalf("run exit %d, want %d:\n%s%s", code, exitShopsFailed, out, errOut)
	}
	for _, want := range []string{"failed collect: 1", "skipped feed: 1", "skipped image: 1", "collect  2      1          1       0"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, key := range []string{"shops/shop-a/feeds/google.xml.gz", "shops/shop-a/feeds/meta.csv.gz", "runs/real/results/image/0.json", "runs/real/report.html"} {
		if _, err := os.Stat(filepath.Join(root, key)); err != nil {
			t.Errorf("missing %s: %v", key, err)
		}
	}
	out, _, code = runAppOut(t, "--root", root, "logs", "real", "--stage", "collect", "--shop", "shop-b")
	if code != 0 || !strings.Contains(out, "stage failed") {
		t.Errorf("logs exit %d:\n%s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	root := t.TempDir()
	t.Setenv(envBatchEndpoint, "")
	tests := []struct {
		name string
		args []string
	}{
		{"rerun without selection", []string{"rerun", "2026-11-23"}},
		{"rerun bad index", []string{"rerun", "2026-11-23", "--index", "5-3"}},
		{"rerun unknown stage", []string{"rerun", "2026-11-23", "--index", "1", "--stage", "bake"}},
		{"rerun two runs", []string{"rerun", "a", "b", "--failed"}},
		{"status bad run id", []string{"status", "../x"}},
		{"status unknown flag after run", []string{"status", "r1", "--nope"}},
		{"logs without stage", []string{"logs", "r1", "--index", "1"}},
		{"logs without index", []string{"logs", "r1", "--stage", "feed"}},
		{"logs unknown stage", []string{"logs", "r1", "--stage", "bake", "--index", "1"}},
		{"run bad run id", []string{"run", "--run", "a/b"}},
		{"run bad engine", []string{"run", "--engine", "k8s"}},
		{"run bad job definition", []string{"run", "--engine", "aws", "--job-definition", "feed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runAppOut(t, append([]string{"--root", root}, tc.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\n%s%s", code, exitUsage, out, errOut)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n != 0 {
				t.Errorf("want one error line, got:\n%s", errOut)
			}
		})
	}
	// A run that does not exist is "not found".
	if _, errOut, code := runAppOut(t, "--root", root, "status", "2020-01-01", "--no-engine"); code != exitNotFound {
		t.Errorf("status of a missing run: exit %d: %s", code, errOut)
	}
}

// TestInterruptedRunResumes interrupts `feedbatch run` while children run
// (exit 130), then `feedbatch status --wait` reopens the engine directory,
// which resumes the run; every index ends with one result per stage.
func TestInterruptedRunResumes(t *testing.T) {
	const n, run = 12, "intr"
	dir := t.TempDir()
	root, engDir := filepath.Join(dir, "root"), filepath.Join(dir, "engine")
	registerShStagesWith(t, engDir, run, "", "sleep 0.2\n")
	fakeRegistry(t, n)
	t.Setenv(envBatchEndpoint, "")

	ctx, cancel := context.WithCancel(t.Context())
	app := newApp()
	var errOut bytes.Buffer
	app.Writer, app.ErrWriter = io.Discard, &errOut
	done := make(chan error, 1)
	go func() {
		done <- app.RunContext(ctx, []string{"feedbatch", "--root", root, "run", "--run", run, "--engine-dir", engDir, "--register=false", "--poll", "50ms", "--vcpus", "1"})
	}()
	// Cancel once every job is submitted and the first results exist:
	// children are running and run is waiting for them. (A cancel during
	// the submissions leaves a plan for the next `run` to finish.)
	st := mustStore(t, root)
	for {
		rec, err := planner.ReadRecord(t.Context(), st, planner.RecordKey(run))
		if err == nil && rec.State == planner.StateSubmitted && len(resultIndexes(t, root, "runs/"+run, "collect")) > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before it was interrupted: %v\n%s", err, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; exitCode(err) != exitCanceled {
		t.Fatalf("interrupted run: exit %d (%v)\n%s", exitCode(err), err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "unfinished jobs resume") {
		t.Errorf("no resume hint:\n%s", errOut.String())
	}

	out, stderr, code := runAppOut(t, "--root", root, "status", run, "--wait", "--engine-dir", engDir, "--poll", "50ms", "--vcpus", "2")
	if code != 0 || strings.Contains(out, "failed ") {
		t.Fatalf("status --wait exit %d:\n%s%s", code, out, stderr)
	}
	for _, stage := range []string{"collect", "feed", "image"} {
		if diff := cmp.Diff(upTo(n), resultIndexes(t, root, "runs/"+run, stage)); diff != "" {
			t.Errorf("%s results -want +got:\n%s", stage, diff)
		}
	}
}
