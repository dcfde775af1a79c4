package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/stages"
)

// envTestChild makes this test binary act as a trivial `feedbatch stage`
// child when the local engine runs it (its job definitions' command is
// "feedbatch stage <name>", and the engine runs feedbatch as the current
// executable).
const envTestChild = "FEEDBATCH_TEST_STAGE_CHILD"

func init() {
	// Children of in-process engines see a clean environment: let this one
	// variable through, as feedbatch's connection settings are.
	localPassEnv = append(localPassEnv, envTestChild)
	if os.Getenv(envTestChild) == "" && len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-test.") {
		// Run as a child without being told how: never run the tests again
		// (each run would start more children).
		fmt.Fprintf(os.Stderr, "test binary started as %q without %s\n", os.Args[1:], envTestChild)
		os.Exit(70)
	}
	if os.Getenv(envTestChild) == "app" {
		// The real command line, as the container runs it.
		os.Exit(runMain(os.Args))
	}
	if os.Getenv(envTestChild) == "1" && len(os.Args) == 3 && os.Args[1] == "stage" {
		if err := trivialStage(context.Background(), os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(stages.ExitPermanent)
		}
		os.Exit(0)
	}
}

// trivialStage does what every stage child does around its work: find its
// index, read its manifest row with ranged reads, write its result record.
// It fails (exit 65) for the daily run's indexes listed in FAIL_<STAGE>.
func trivialStage(ctx context.Context, stage string) error {
	st, err := openStore(ctx, os.Getenv(stages.EnvRoot))
	if err != nil {
		return err
	}
	var idx int64
	if s := os.Getenv(stages.EnvIndex); s != "" {
		idx, err = strconv.ParseInt(s, 10, 64)
	} else {
		idx, err = strconv.ParseInt(os.Getenv(stages.EnvArrayIndex), 10, 64)
		off, _ := strconv.ParseInt(cmp.Or(os.Getenv(stages.EnvIndexOffset), "0"), 10, 64)
		idx += off
	}
	if err != nil {
		return err
	}
	key := os.Getenv(stages.EnvManifest)
	row, meta, err := manifest.Lookup(ctx, st, key, idx)
	if err != nil {
		return err
	}
	fmt.Printf("stage %s index %d shop %s\n", stage, idx, row.ShopID)
	if meta.Rerun == "" && strings.Contains(","+os.Getenv("FAIL_"+strings.ToUpper(stage))+",", ","+strconv.FormatInt(idx, 10)+",") {
		return fmt.Errorf("stage %s shop %s: injected failure", stage, row.ShopID)
	}
	attempt, _ := strconv.Atoi(os.Getenv(stages.EnvAttempt))
	return stages.WriteResult(ctx, stages.Job{ManifestKey: key, Store: st}, stages.Result{
		Stage: stage, RunID: meta.RunID, ManifestKey: key, Index: idx, OriginIndex: row.OriginIndex, ShopID: row.ShopID,
		Status: stages.StatusSucceeded, Attempt: attempt, JobID: os.Getenv(stages.EnvJobID),
	})
}

// TestAWSMode runs run, status, logs, rerun and plan with --engine aws
// exactly as in AWS: the Batch API of a standalone local engine
// (FEEDBATCH_BATCH_ENDPOINT), S3 from a real S3 server (FEEDBATCH_S3_ENDPOINT),
// credentials from the standard chain (AWS_ACCESS_KEY_ID...).
func TestAWSMode(t *testing.T) {
	testtool.Slow(t, "runs the pipeline against the S3 server and the engine")
	srv := s3test.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv(envTestChild, "1")
	t.Setenv("FAIL_COLLECT", "2")
	engDir := t.TempDir()
	eng, ep, err := local.Start(t.Context(), local.Config{Dir: engDir, VCPUs: 2, PassEnv: append(slices.Clone(localPassEnv), "FAIL_COLLECT")})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	api := local.BatchClient(ep, eng.Credentials())
	// The engine's generated credentials sign Batch requests; S3 keeps the
	// standard chain.
	t.Setenv(envEngineCredentials, filepath.Join(engDir, local.CredentialsName))
	for _, stage := range []string{"collect", "feed", "image"} {
		if _, err := api.RegisterJobDefinition(t.Context(), &batch.RegisterJobDefinitionInput{
			JobDefinitionName: aws.String(planner.DefaultJobDefinition(stage)),
			Type:              types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{
				Image:                aws.String("local"),
				Command:              planner.JobDefinitionCommand(stage),
				ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("0.5")}, {Type: types.ResourceTypeMemory, Value: aws.String("64")}},
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(envBatchEndpoint, ep)
	fakeRegistry(t, 6)
	root := "s3://" + srv.Bucket + "/prod"
	awsArgs := []string{"--engine", "aws", "--poll", "100ms"}

	out, errOut, code := runAppOut(t, append([]string{"--root", root, "run", "--run", "a1"}, awsArgs...)...)
	if code != exitShopsFailed || !strings.Contains(out, "failed collect: 2") || !strings.Contains(out, "skipped feed: 2") {
		t.Fatalf("run exit %d:\n%s%s", code, out, errOut)
	}
	st := mustStore(t, root)
	rec, err := planner.ReadRecord(t.Context(), st, "runs/a1/run.json")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Engine != "aws" || rec.Root != root || rec.State != planner.StateSubmitted || len(rec.Jobs) != 3 {
		t.Errorf("run.json: %+v", rec)
	}

	out, _, code = runAppOut(t, append([]string{"--root", root, "status", "a1", "--index", "2"}, awsArgs[:2]...)...)
	if code != exitShopsFailed || !strings.Contains(out, "SKIPPED") || !strings.Contains(out, "injected failure") && !strings.Contains(out, "FAILED") {
		t.Errorf("status exit %d:\n%s", code, out)
	}
	out, _, code = runAppOut(t, append([]string{"--root", root, "logs", "a1", "--stage", "collect", "--shop", "shop-00002"}, awsArgs[:2]...)...)
	if code != 0 || !strings.Contains(out, "stage collect shop shop-00002: injected failure") {
		t.Errorf("logs exit %d:\n%s", code, out)
	}

	out, errOut, code = runAppOut(t, append([]string{"--root", root, "rerun", "a1", "--failed"}, awsArgs...)...)
	if code != 0 || !strings.Contains(out, "stages collect+feed+image; indexes 2") {
		t.Fatalf("rerun exit %d:\n%s%s", code, out, errOut)
	}
	for _, stage := range []string{"collect", "feed", "image"} {
		res, err := readResultRecord(t, st, "runs/a1/reruns/1/results/"+stage+"/0.json")
		if err != nil || res.ShopID != "shop-00002" || res.OriginIndex != 2 {
			t.Errorf("re-run %s result: %+v %v", stage, res, err)
		}
	}
	// No --engine: status follows run.json to the engine the run used.
	out, _, code = runAppOut(t, "--root", root, "status", "a1")
	if code != 0 || strings.Contains(out, "failed ") || !strings.Contains(out, "1 re-run(s)") {
		t.Errorf("status after re-run exit %d:\n%s", code, out)
	}

	// The planner job alone: submits and exits.
	out, errOut, code = runAppOut(t, append([]string{"--root", root, "plan", "--run", "a2"}, awsArgs[:2]...)...)
	if code != 0 || !strings.Contains(out, "fb-a2-collect") {
		t.Fatalf("plan exit %d:\n%s%s", code, out, errOut)
	}
	rec2, err := planner.ReadRecord(t.Context(), st, "runs/a2/run.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := planner.Wait(t.Context(), api, rec2, 100*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runAppOut(t, append([]string{"--root", root, "plan", "--run", "a2"}, awsArgs[:2]...)...)
	if code != exitUsage || !strings.Contains(errOut, "nothing submitted") {
		t.Errorf("second plan exit %d: %s", code, errOut)
	}
}

func readResultRecord(t *testing.T, st interface {
	Get(context.Context, string) (io.ReadCloser, error)
}, key string) (stages.Result, error) {
	t.Helper()
	var res stages.Result
	rc, err := st.Get(t.Context(), key)
	if err != nil {
		return res, err
	}
	defer rc.Close()
	err = json.NewDecoder(rc).Decode(&res)
	return res, err
}
