package local_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/internal/testtool"
)

// clientEnv is the environment for the AWS CLI and boto3: the engine's
// generated credentials as the README exports them, no other shared config
// that could point elsewhere.
func clientEnv(t *testing.T, engineDir string) []string {
	home := t.TempDir()
	env := []string{"HOME=" + home, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(engineDir, local.CredentialsName),
		"AWS_PROFILE=" + local.CredentialsProfile, "AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER="}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "PYTHONPATH=") {
			env = append(env, kv)
		}
	}
	return env
}

// TestBoto3 runs testdata/boto3_scenarios.py (array, N_TO_N, failure,
// retry, timeout, cancel, terminate, paging) against the engine.
func TestBoto3(t *testing.T) {
	testtool.Slow(t, "drives the engine from python clients")
	testtool.Require(t, testtool.Boto3)
	t.Parallel()
	dir := t.TempDir()
	_, ep := startEngine(t, local.Config{Dir: dir, VCPUs: 16, MemoryMiB: 4096, MinTimeoutSeconds: 1, KillGrace: time.Second})
	cmd := exec.CommandContext(t.Context(), "python3", "testdata/boto3_scenarios.py", ep, local.DefaultQueueName)
	cmd.Env = clientEnv(t, dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3 scenarios: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestAWSCLI drives the engine with `aws batch ... --endpoint-url`.
func TestAWSCLI(t *testing.T) {
	testtool.Slow(t, "drives the engine from python clients")
	testtool.Require(t, testtool.AWSCLI)
	t.Parallel()
	dir := t.TempDir()
	eng, ep := startEngine(t, local.Config{Dir: dir, VCPUs: 16, MemoryMiB: 4096, MinTimeoutSeconds: 1, KillGrace: time.Second})
	sdk := &tc{t: t, c: local.BatchClient(ep, eng.Credentials()), ep: ep, eng: eng}
	env := clientEnv(t, dir)
	cli := func(wantErr bool, args ...string) map[string]any {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "aws", append(append([]string{"batch"}, args...),
			"--endpoint-url", ep, "--region", "us-east-1", "--output", "json")...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if wantErr {
			if err == nil {
				t.Fatalf("aws batch %s succeeded, want an error", strings.Join(args, " "))
			}
			return map[string]any{"error": string(out)}
		}
		if err != nil {
			t.Fatalf("aws batch %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		m := map[string]any{}
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws batch %s: %v\n%s", args[0], err, out)
			}
		}
		return m
	}
	define := func(name, script string) {
		props, _ := json.Marshal(map[string]any{"image": "busybox", "command": []string{"sh", "-c", script},
			"resourceRequirements": []map[string]string{{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "64"}}})
		cli(false, "register-job-definition", "--job-definition-name", name, "--type", "container", "--container-properties", string(props))
	}
	submit := func(name string, extra ...string) string {
		out := cli(false, append([]string{"submit-job", "--job-name", name, "--job-queue", local.DefaultQueueName, "--job-definition", name}, extra...)...)
		return out["jobId"].(string)
	}
	// Independent CLI calls run concurrently: each is a Python start-up.
	par := func(fns ...func()) {
		var wg sync.WaitGroup
		for _, f := range fns {
			wg.Add(1)
			go func() { defer wg.Done(); f() }()
		}
		wg.Wait()
	}
	sdk.def("cli-b", sh("true"))
	sdk.def("cli-retry", sh(`[ "$AWS_BATCH_JOB_ATTEMPT" = 2 ]`))
	sdk.def("cli-sleep", sh("sleep 60"))
	var a, b, retried, timed, running, pending string
	var errOut map[string]any
	par(
		func() {
			define("cli-a", `[ "$AWS_BATCH_JOB_ARRAY_INDEX" != 1 ]`)
			a = submit("cli-a", "--array-properties", "size=3")
			b = submit("cli-b", "--array-properties", "size=3", "--depends-on", "jobId="+a+",type=N_TO_N")
		},
		func() { retried = submit("cli-retry", "--retry-strategy", "attempts=2") },
		func() { timed = submit("cli-sleep", "--timeout", "attemptDurationSeconds=1") },
		func() {
			running = submit("cli-sleep")
			pending = submit("cli-b", "--depends-on", "jobId="+running)
			cli(false, "cancel-job", "--job-id", pending, "--reason", "cli cancel")
		},
		func() {
			errOut = cli(true, "submit-job", "--job-name", "x", "--job-queue", local.DefaultQueueName, "--job-definition", "cli-b", "--array-properties", "size=1")
		},
	)
	sdk.waitStatus(running, types.JobStatusRunning)
	if _, err := sdk.c.TerminateJob(t.Context(), &batch.TerminateJobInput{JobId: &running, Reason: aws.String("cli terminate")}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut["error"].(string), "ClientException") {
		t.Errorf("size 1: %s, want a ClientException", errOut["error"])
	}
	for _, id := range []string{b, retried, timed, pending, running} {
		sdk.wait(id)
	}

	var jobs, list []any
	par(
		func() {
			jobs = cli(false, "describe-jobs", "--jobs", a, b, b+":1", b+":2", retried, timed, pending, running)["jobs"].([]any)
		},
		func() {
			list = cli(false, "list-jobs", "--array-job-id", b, "--job-status", "SUCCEEDED")["jobSummaryList"].([]any)
		},
	)
	byID := map[string]map[string]any{}
	for _, j := range jobs {
		m := j.(map[string]any)
		byID[m["jobId"].(string)] = m
	}
	want := []struct {
		id, status, reason string
		attempts           int
	}{
		{a, "FAILED", "", 0},
		{b, "FAILED", "", 0},
		{b + ":1", "FAILED", "Dependent Job failed", 0},
		{b + ":2", "SUCCEEDED", "Essential container in task exited", 1},
		{retried, "SUCCEEDED", "", 2},
		{timed, "FAILED", "Job attempt duration exceeded timeout", 1},
		{pending, "FAILED", "cli cancel", 0},
		{running, "FAILED", "cli terminate", 1},
	}
	for _, w := range want {
		j, ok := byID[w.id]
		if !ok {
			t.Errorf("describe-jobs lacks %s", w.id)
			continue
		}
		if j["status"] != w.status || (w.reason != "" && j["statusReason"] != w.reason) || len(j["attempts"].([]any)) != w.attempts {
			t.Errorf("job %s: %v %v with %d attempts, want %s %q with %d", w.id, j["status"], j["statusReason"], len(j["attempts"].([]any)), w.status, w.reason, w.attempts)
		}
	}
	if ap := byID[a]["arrayProperties"].(map[string]any); ap["statusSummary"].(map[string]any)["FAILED"] != float64(1) {
		t.Errorf("A statusSummary %v", ap)
	}
	if len(list) != 2 {
		t.Errorf("list-jobs SUCCEEDED children of B: %d, want 2", len(list))
	}
}
