package local_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/feedbatch/feedbatch/engine/local"
)

// Test helpers: a client bound to one engine.
type tc struct {
	t   *testing.T
	c   *batch.Client
	ep  string
	eng *local.Engine
}

func newTC(t *testing.T, cfg local.Config) (*tc, *local.Engine) {
	eng, ep := startEngine(t, cfg)
	return &tc{t: t, c: local.BatchClient(ep, eng.Credentials()), ep: ep, eng: eng}, eng
}

func res(vcpu, mem string) []types.ResourceRequirement {
	return []types.ResourceRequirement{
		{Type: types.ResourceTypeVcpu, Value: aws.String(vcpu)},
		{Type: types.ResourceTypeMemory, Value: aws.String(mem)},
	}
}

func (c *tc) def(name string, cmd []string, mods ...func(*batch.RegisterJobDefinitionInput)) string {
	c.t.Helper()
	in := &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String(name),
		Type:              types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{
			Image: aws.String("busybox"), Command: cmd, ResourceRequirements: res("1", "64"),
		},
	}
	for _, m := range mods {
		m(in)
	}
	if _, err := c.c.RegisterJobDefinition(c.t.Context(), in); err != nil {
		c.t.Fatal(err)
	}
	return name
}

func (c *tc) submit(def string, mods ...func(*batch.SubmitJobInput)) string {
	c.t.Helper()
	id, err := c.trySubmit(def, mods...)
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

func (c *tc) trySubmit(def string, mods ...func(*batch.SubmitJobInput)) (string, error) {
	in := &batch.SubmitJobInput{JobName: aws.String("j"), JobQueue: aws.String("feedbatch"), JobDefinition: aws.String(def)}
	for _, m := range mods {
		m(in)
	}
	out, err := c.c.SubmitJob(c.t.Context(), in)
	if err != nil {
		return "", err
	}
	return *out.JobId, nil
}

func (c *tc) get(id string) types.JobDetail {
	c.t.Helper()
	out, err := c.c.DescribeJobs(c.t.Context(), &batch.DescribeJobsInput{Jobs: []string{id}})
	if err != nil {
		c.t.Fatal(err)
	}
	if len(out.Jobs) != 1 {
		c.t.Fatalf("job %s unknown", id)
	}
	return out.Jobs[0]
}

func (c *tc) waitFor(id string, cond func(types.JobDetail) bool) types.JobDetail {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 30*time.Second)
	defer cancel()
	for {
		j := c.get(id)
		if cond(j) {
			return j
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("job %s stuck in %s (%q)", id, j.Status, aws.ToString(j.StatusReason))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *tc) wait(id string) types.JobDetail {
	c.t.Helper()
	return c.waitFor(id, func(j types.JobDetail) bool {
		return j.Status == types.JobStatusSucceeded || j.Status == types.JobStatusFailed
	})
}

func (c *tc) waitStatus(id string, st types.JobStatus) types.JobDetail {
	c.t.Helper()
	return c.waitFor(id, func(j types.JobDetail) bool { return j.Status == st })
}

func sh(script string) []string { return []string{"sh", "-c", script} }

func isClientException(err error) bool {
	var ce *types.ClientException
	return err != nil && strings.Contains(err.Error(), "ClientException") && asClient(err, &ce)
}

func asClient(err error, ce **types.ClientException) bool {
	for err != nil {
		if c, ok := err.(*types.ClientException); ok {
			*ce = c
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// TestRestartMidRun stops the engine while jobs run and wait, then opens it
// again on the same directory: finished jobs are described as before, the
// interrupted attempt ends as a lost host and is retried when attempts
// remain (else the job fails with that reason), and waiting jobs go on.
func TestRestartMidRun(t *testing.T) {
	dir := t.TempDir()
	cfg := local.Config{Dir: dir, VCPUs: 8, MemoryMiB: 4096, KillGrace: time.Second}
	eng, ep, err := local.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &tc{t: t, c: local.BatchClient(ep, eng.Credentials())}
	quick := c.def("quick", sh("echo done"))
	resumable := c.def("resumable", sh(`if [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ]; then sleep 600; fi`))
	done := c.submit(quick)
	doneArr := c.submit(quick, func(in *batch.SubmitJobInput) { in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(3)} })
	c.wait(done)
	c.wait(doneArr)
	retried := c.submit(resumable, func(in *batch.SubmitJobInput) { in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(2)} })
	lost := c.submit(resumable)
	waiting := c.submit(quick, func(in *batch.SubmitJobInput) {
		in.DependsOn = []types.JobDependency{{JobId: aws.String(retried)}}
	})
	c.waitStatus(retried, types.JobStatusRunning)
	c.waitStatus(lost, types.JobStatusRunning)
	c.waitStatus(waiting, types.JobStatusPending)
	before, err := c.c.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: []string{done, doneArr, doneArr + ":2"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}

	c2, _ := newTC(t, cfg)
	after, err := c2.c.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: []string{done, doneArr, doneArr + ":2"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Jobs, after.Jobs, cmpopts.IgnoreUnexported(types.JobDetail{}, types.ContainerDetail{},
		types.AttemptDetail{}, types.AttemptContainerDetail{}, types.ArrayPropertiesDetail{}, types.KeyValuePair{},
		types.ResourceRequirement{}), cmpopts.IgnoreFields(types.ArrayPropertiesDetail{}, "StatusSummaryLastUpdatedAt")); diff != "" {
		t.Errorf("finished jobs after restart (-before +after):\n%s", diff)
	}
	r := c2.wait(retried)
	if r.Status != types.JobStatusSucceeded || len(r.Attempts) != 2 {
		t.Fatalf("retried job: %s with %d attempts, want SUCCEEDED with 2", r.Status, len(r.Attempts))
	}
	if got := aws.ToString(r.Attempts[0].StatusReason); got != "Host EC2 (instance local) terminated." {
		t.Errorf("interrupted attempt statusReason %q", got)
	}
	l := c2.wait(lost)
	if l.Status != types.JobStatusFailed || aws.ToString(l.StatusReason) != "Host EC2 (instance local) terminated." {
		t.Errorf("job without attempts left: %s %q", l.Status, aws.ToString(l.StatusReason))
	}
	if w := c2.wait(waiting); w.Status != types.JobStatusSucceeded {
		t.Errorf("waiting job: %s", w.Status)
	}
}

// TestCrashRecovery opens a copy of a running engine's directory, as a
// crash would leave it (no Close): a job that was RUNNING is settled as a
// lost host; a journal line torn by the crash is ignored.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	c, _ := newTC(t, local.Config{Dir: dir, VCPUs: 4, MemoryMiB: 1024, KillGrace: time.Second})
	c.def("sleeper", sh("sleep 600"))
	id := c.submit("sleeper")
	c.waitStatus(id, types.JobStatusRunning)

	crash := t.TempDir()
	for _, name := range []string{"jobs.journal", "jobdefs.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "jobs.journal" {
			b = append(b, `{"id":"torn`...)
		}
		if err := os.WriteFile(filepath.Join(crash, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c2, _ := newTC(t, local.Config{Dir: crash, VCPUs: 4, MemoryMiB: 1024})
	j := c2.get(id)
	if j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != "Host EC2 (instance local) terminated." {
		t.Errorf("crashed job: %s %q", j.Status, aws.ToString(j.StatusReason))
	}
	if len(j.Attempts) != 1 || aws.ToInt64(j.Attempts[0].StoppedAt) == 0 {
		t.Errorf("crashed job attempts: %+v", j.Attempts)
	}
}

// TestResources: jobs wait RUNNABLE until they fit the vCPU budget; a job
// that can never fit fails with a MISCONFIGURATION reason; cancelling a
// RUNNABLE job fails it at once.
func TestResources(t *testing.T) {
	c, _ := newTC(t, local.Config{VCPUs: 2, MemoryMiB: 1024})
	c.def("one", sh(`echo $(date +%s%N) > "$OUT/$AWS_BATCH_JOB_ARRAY_INDEX.start"; sleep 0.3; echo $(date +%s%N) > "$OUT/$AWS_BATCH_JOB_ARRAY_INDEX.stop"`))
	out := t.TempDir()
	arr := c.submit("one", func(in *batch.SubmitJobInput) {
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(5)}
		in.ContainerOverrides = &types.ContainerOverrides{Environment: []types.KeyValuePair{{Name: aws.String("OUT"), Value: aws.String(out)}}}
	})
	if p := c.wait(arr); p.Status != types.JobStatusSucceeded {
		t.Fatalf("array: %s", p.Status)
	}
	// At any start, at most 2 children (1 vCPU each) were running.
	type span struct{ start, stop int64 }
	var spans []span
	for i := range 5 {
		var s span
		for _, f := range []struct {
			ext string
			v   *int64
		}{{".start", &s.start}, {".stop", &s.stop}} {
			b, err := os.ReadFile(filepath.Join(out, fmt.Sprint(i)+f.ext))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Sscan(string(b), f.v)
		}
		spans = append(spans, s)
	}
	for _, a := range spans {
		n := 0
		for _, b := range spans {
			if b.start <= a.start && a.start < b.stop {
				n++
			}
		}
		if n > 2 {
			t.Errorf("%d children running at once on 2 vCPUs", n)
		}
	}

	const misconfig = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
	for name, rr := range map[string][]types.ResourceRequirement{
		"vcpu":   res("3", "64"),
		"memory": res("1", "2048"),
		"gpu":    append(res("1", "64"), types.ResourceRequirement{Type: types.ResourceTypeGpu, Value: aws.String("1")}),
	} {
		id := c.submit("one", func(in *batch.SubmitJobInput) {
			in.ContainerOverrides = &types.ContainerOverrides{ResourceRequirements: rr}
		})
		j := c.wait(id)
		if j.Status != types.JobStatusFailed || !strings.HasPrefix(aws.ToString(j.StatusReason), misconfig) {
			t.Errorf("%s too big: %s %q, want FAILED %s...", name, j.Status, aws.ToString(j.StatusReason), misconfig)
		}
	}

	c.def("hog", sh("sleep 600"), func(in *batch.RegisterJobDefinitionInput) {
		in.ContainerProperties.ResourceRequirements = res("2", "64")
	})
	hog := c.submit("hog")
	c.waitStatus(hog, types.JobStatusRunning)
	queued := c.submit("one")
	c.waitStatus(queued, types.JobStatusRunnable)
	if _, err := c.c.CancelJob(t.Context(), &batch.CancelJobInput{JobId: aws.String(queued), Reason: aws.String("no room")}); err != nil {
		t.Fatal(err)
	}
	j := c.get(queued)
	if j.Status != types.JobStatusFailed || !aws.ToBool(j.IsCancelled) || aws.ToString(j.StatusReason) != "no room" {
		t.Errorf("cancelled RUNNABLE job: %s cancelled=%v %q", j.Status, aws.ToBool(j.IsCancelled), aws.ToString(j.StatusReason))
	}
	if _, err := c.c.TerminateJob(t.Context(), &batch.TerminateJobInput{JobId: aws.String(hog), Reason: aws.String("done")}); err != nil {
		t.Fatal(err)
	}
	c.wait(hog)
}

// TestLocalValidation pins the engine's choices where AWS is undocumented
// (DIFFERENCES.md) and limits the suite cannot reach portably.
func TestLocalValidation(t *testing.T) {
	c, _ := newTC(t, local.Config{VCPUs: 4, MemoryMiB: 1024})
	c.def("ok", sh("true"))
	arr3 := c.submit("ok", func(in *batch.SubmitJobInput) { in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(3)} })
	plain := c.submit("ok")
	size := func(n int32) func(*batch.SubmitJobInput) {
		return func(in *batch.SubmitJobInput) { in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(n)} }
	}
	deps := func(d ...types.JobDependency) func(*batch.SubmitJobInput) {
		return func(in *batch.SubmitJobInput) { in.DependsOn = d }
	}
	nton := func(id string) types.JobDependency {
		return types.JobDependency{JobId: aws.String(id), Type: types.ArrayJobDependencyNToN}
	}
	cases := []struct {
		name string
		mods []func(*batch.SubmitJobInput)
	}{
		{"N_TO_N size mismatch", []func(*batch.SubmitJobInput){size(4), deps(nton(arr3))}},
		{"N_TO_N on a plain job", []func(*batch.SubmitJobInput){size(3), deps(nton(plain))}},
		{"N_TO_N from a plain job", []func(*batch.SubmitJobInput){deps(nton(arr3))}},
		{"SEQUENTIAL with a jobId", []func(*batch.SubmitJobInput){size(3), deps(types.JobDependency{JobId: aws.String(arr3), Type: types.ArrayJobDependencySequential})}},
		{"SEQUENTIAL on a plain job", []func(*batch.SubmitJobInput){deps(types.JobDependency{Type: types.ArrayJobDependencySequential})}},
		{"unknown dependency", []func(*batch.SubmitJobInput){deps(types.JobDependency{JobId: aws.String("00000000-0000-4000-8000-000000000000")})}},
		{"leading * in onExitCode", []func(*batch.SubmitJobInput){func(in *batch.SubmitJobInput) {
			in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(2), EvaluateOnExit: []types.EvaluateOnExit{{Action: types.RetryActionExit, OnExitCode: aws.String("*1")}}}
		}}},
		{"unknown queue", []func(*batch.SubmitJobInput){func(in *batch.SubmitJobInput) { in.JobQueue = aws.String("other") }}},
		{"shareIdentifier without fair share", []func(*batch.SubmitJobInput){func(in *batch.SubmitJobInput) { in.ShareIdentifier = aws.String("a") }}},
		{"payload over 30 KiB", []func(*batch.SubmitJobInput){func(in *batch.SubmitJobInput) {
			in.Parameters = map[string]string{"big": strings.Repeat("x", 31<<10)}
		}}},
		{"bad VCPU", []func(*batch.SubmitJobInput){func(in *batch.SubmitJobInput) {
			in.ContainerOverrides = &types.ContainerOverrides{ResourceRequirements: res("lots", "64")}
		}}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.trySubmit("ok", tt.mods...)
			if !isClientException(err) {
				t.Errorf("err = %v, want a ClientException", err)
			}
		})
	}
	t.Run("N_TO_N same size accepted", func(t *testing.T) {
		if _, err := c.trySubmit("ok", size(3), deps(nton(arr3))); err != nil {
			t.Error(err)
		}
	})
	t.Run("overrides longer than 8192 fail the job", func(t *testing.T) {
		id := c.submit("ok", func(in *batch.SubmitJobInput) {
			in.ContainerOverrides = &types.ContainerOverrides{Environment: []types.KeyValuePair{{Name: aws.String("BIG"), Value: aws.String(strings.Repeat("x", 9000))}}}
		})
		j := c.wait(id)
		if j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != "Container Overrides length must be at most 8192" || len(j.Attempts) != 0 {
			t.Errorf("got %s %q with %d attempts", j.Status, aws.ToString(j.StatusReason), len(j.Attempts))
		}
	})
}

// TestChildDependsOn pins what DescribeJobs shows as a child's dependsOn:
// the concrete peer (N_TO_N) or predecessor (SEQUENTIAL) child.
func TestChildDependsOn(t *testing.T) {
	c, _ := newTC(t, local.Config{VCPUs: 4, MemoryMiB: 1024})
	c.def("ok", sh("true"))
	a := c.submit("ok", func(in *batch.SubmitJobInput) { in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)} })
	b := c.submit("ok", func(in *batch.SubmitJobInput) {
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
		in.DependsOn = []types.JobDependency{{JobId: aws.String(a), Type: types.ArrayJobDependencyNToN}, {Type: types.ArrayJobDependencySequential}}
	})
	c.wait(b)
	type dep struct{ ID, Type string }
	got := func(id string) []dep {
		var out []dep
		for _, d := range c.get(id).DependsOn {
			out = append(out, dep{aws.ToString(d.JobId), string(d.Type)})
		}
		return out
	}
	if diff := cmp.Diff([]dep{{a + ":0", "N_TO_N"}}, got(b+":0")); diff != "" {
		t.Errorf("child 0 dependsOn (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]dep{{a + ":1", "N_TO_N"}, {b + ":0", "SEQUENTIAL"}}, got(b+":1")); diff != "" {
		t.Errorf("child 1 dependsOn (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]dep{{a, "N_TO_N"}, {"", "SEQUENTIAL"}}, got(b)); diff != "" {
		t.Errorf("parent dependsOn (-want +got):\n%s", diff)
	}
}

// TestLogs: one log stream per attempt, stdout and stderr together, read
// back with the CloudWatch Logs client and through LogPath.
func TestLogs(t *testing.T) {
	c, eng := newTC(t, local.Config{VCPUs: 4, MemoryMiB: 1024})
	c.def("talk", sh(`echo "out $AWS_BATCH_JOB_ATTEMPT"; echo "err $AWS_BATCH_JOB_ATTEMPT" >&2; exit 1`))
	id := c.submit("talk", func(in *batch.SubmitJobInput) { in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(2)} })
	j := c.wait(id)
	if len(j.Attempts) != 2 {
		t.Fatalf("%d attempts", len(j.Attempts))
	}
	logs := local.LogsClient(c.ep, c.eng.Credentials())
	streams := map[string]bool{}
	for i, a := range j.Attempts {
		stream := aws.ToString(a.Container.LogStreamName)
		if !strings.HasPrefix(stream, "talk/default/") {
			t.Errorf("stream %q, want talk/default/<task>", stream)
		}
		streams[stream] = true
		out, err := logs.GetLogEvents(t.Context(), &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(local.LogGroup), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
		}
		want := []string{fmt.Sprintf("out %d", i+1), fmt.Sprintf("err %d", i+1)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("attempt %d log (-want +got):\n%s", i+1, diff)
		}
		// The forward token at the end gives no more events.
		more, err := logs.GetLogEvents(t.Context(), &cloudwatchlogs.GetLogEventsInput{
			LogStreamName: aws.String(stream), NextToken: out.NextForwardToken,
		})
		if err != nil || len(more.Events) != 0 || aws.ToString(more.NextForwardToken) != aws.ToString(out.NextForwardToken) {
			t.Errorf("next page: %d events, token %q, err %v", len(more.Events), aws.ToString(more.NextForwardToken), err)
		}
		b, err := os.ReadFile(eng.LogPath(local.LogGroup, stream))
		if err != nil || !strings.Contains(string(b), want[0]) {
			t.Errorf("LogPath file: %q, %v", b, err)
		}
	}
	if len(streams) != 2 {
		t.Errorf("streams %v, want one per attempt", streams)
	}
	_, err := logs.GetLogEvents(t.Context(), &cloudwatchlogs.GetLogEventsInput{LogStreamName: aws.String("talk/default/nope")})
	if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("unknown stream: err = %v, want ResourceNotFoundException", err)
	}
	for _, gs := range [][2]string{{"", "../../etc/passwd"}, {"..", "x/default/t"}, {"/g", "../../../etc/passwd"}} {
		if p := eng.LogPath(gs[0], gs[1]); p != "" {
			t.Errorf("LogPath(%q, %q) = %q, want empty", gs[0], gs[1], p)
		}
	}
}

// TestSelfAndEnvironment: a "feedbatch" command runs Config.Self; the
// engine's own AWS_BATCH_* variables do not leak into jobs; a plain job has
// no array variables.
func TestSelfAndEnvironment(t *testing.T) {
	t.Setenv("AWS_BATCH_JOB_ARRAY_INDEX", "99")
	self := filepath.Join(t.TempDir(), "self.sh")
	if err := os.WriteFile(self, []byte("#!/bin/sh\n[ \"$1\" = stage ] && exit 7\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, _ := newTC(t, local.Config{VCPUs: 4, MemoryMiB: 1024, Self: self})
	c.def("self", []string{"/app/feedbatch", "stage", "collect"})
	c.def("env", sh(`[ -z "$AWS_BATCH_JOB_ARRAY_INDEX" ] && [ -z "$AWS_BATCH_JOB_ARRAY_SIZE" ] && [ "$AWS_BATCH_CE_NAME" = local ] && [ "$AWS_BATCH_JQ_NAME" = feedbatch ]`))
	if j := c.wait(c.submit("self")); j.Container == nil || aws.ToInt32(j.Container.ExitCode) != 7 {
		t.Errorf("feedbatch command: container %+v, want exit 7 from Config.Self", j.Container)
	}
	if j := c.wait(c.submit("env")); j.Status != types.JobStatusSucceeded {
		t.Errorf("environment check: %s exit %v", j.Status, exitCode(j))
	}
	c.def("missing", []string{"/nonexistent/program"})
	j := c.wait(c.submit("missing", func(in *batch.SubmitJobInput) {
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(2), EvaluateOnExit: []types.EvaluateOnExit{
			{Action: types.RetryActionExit, OnReason: aws.String("CannotStartContainerError:*")},
		}}
	}))
	if j.Status != types.JobStatusFailed || len(j.Attempts) != 1 || aws.ToString(j.StatusReason) != "Task failed to start" {
		t.Errorf("missing program: %s %q, %d attempts", j.Status, aws.ToString(j.StatusReason), len(j.Attempts))
	}
}

func exitCode(j types.JobDetail) any {
	if j.Container == nil || j.Container.ExitCode == nil {
		return nil
	}
	return *j.Container.ExitCode
}

// TestWireErrors: errors carry the AWS REST-JSON shape that the SDKs and
// the CLI parse.
func TestWireErrors(t *testing.T) {
	c, eng := newTC(t, local.Config{VCPUs: 1, MemoryMiB: 256})
	post := func(path, body string) (*http.Response, map[string]string) {
		resp := signedPost(t, eng, c.ep+path, "batch", body, nil)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]string
		_ = json.Unmarshal(b, &m)
		return resp, m
	}
	resp, body := post("/v1/describejobs", `{"jobs":`+strings.Repeat(`"x",`, 0)+`[`+strings.TrimSuffix(strings.Repeat(`"x",`, 101), ",")+`]}`)
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "ClientException" ||
		body["__type"] != "ClientException" || body["message"] != "Maximum number of jobs supported is 100" {
		t.Errorf("got %d %q %v", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
	resp, body = post("/v1/submitjob", `{not json`)
	if resp.StatusCode != 400 || body["__type"] != "ClientException" {
		t.Errorf("malformed: %d %v", resp.StatusCode, body)
	}
	resp, _ = post("/v1/nosuchop", `{}`)
	if resp.StatusCode != 404 {
		t.Errorf("unknown operation: %d", resp.StatusCode)
	}
	resp, body = post("/v1/describejobs", `{"jobs":[]}`)
	if resp.StatusCode != 200 {
		t.Errorf("empty describe: %d %v", resp.StatusCode, body)
	}
}

// TestArrayChain runs three N_TO_N-chained arrays of 300 children and
// checks that no index is lost (FEEDBATCH_ENGINE_LARGE=1: 10,000 each;
// bench/engine.sh measures that size).
func TestArrayChain(t *testing.T) {
	n := int32(300)
	if testing.Short() {
		n = 50
	}
	if os.Getenv("FEEDBATCH_ENGINE_LARGE") == "1" {
		n = 10000
	}
	c, _ := newTC(t, local.Config{VCPUs: 8, MemoryMiB: 4096})
	c.def("true", []string{"true"}, func(in *batch.RegisterJobDefinitionInput) {
		in.ContainerProperties.ResourceRequirements = res("0.5", "16")
	})
	var prev string
	var ids []string
	for range 3 {
		id := c.submit("true", func(in *batch.SubmitJobInput) {
			in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(n)}
			if prev != "" {
				in.DependsOn = []types.JobDependency{{JobId: aws.String(prev), Type: types.ArrayJobDependencyNToN}}
			}
		})
		ids = append(ids, id)
		prev = id
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	for _, id := range ids {
		for {
			j := c.get(id)
			if j.Status == types.JobStatusSucceeded {
				if got := j.ArrayProperties.StatusSummary["SUCCEEDED"]; got != n {
					t.Errorf("array %s: %d children SUCCEEDED, want %d", id, got, n)
				}
				break
			}
			if j.Status == types.JobStatusFailed {
				t.Fatalf("array %s FAILED: %v", id, j.ArrayProperties.StatusSummary)
			}
			select {
			case <-ctx.Done():
				t.Fatalf("array %s: %v", id, j.ArrayProperties.StatusSummary)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	// Every child of the last array is listed as SUCCEEDED.
	var listed int
	p := batch.NewListJobsPaginator(c.c, &batch.ListJobsInput{ArrayJobId: aws.String(ids[2]), JobStatus: types.JobStatusSucceeded})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		listed += len(page.JobSummaryList)
	}
	if listed != int(n) {
		t.Errorf("listed %d children, want %d", listed, n)
	}
}

// FuzzSubmitJob feeds arbitrary bodies to SubmitJob: every answer is a
// success or a well-formed ClientException, never a crash or a 500.
func FuzzSubmitJob(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"jobName":"a","jobQueue":"feedbatch","jobDefinition":"d"}`,
		`{"jobName":"a","jobQueue":"feedbatch","jobDefinition":"d","arrayProperties":{"size":3}}`,
		`{"jobName":"a","jobQueue":"feedbatch","jobDefinition":"d","dependsOn":[{"type":"SEQUENTIAL"}]}`,
		`{"jobName":"a","jobQueue":"feedbatch","jobDefinition":"d","containerOverrides":{"resourceRequirements":[{"type":"VCPU","value":"1e400"}]}}`,
		`{"jobName":"a","jobQueue":"feedbatch","jobDefinition":"d","retryStrategy":{"attempts":2,"evaluateOnExit":[{"action":"exit","onExitCode":"1*"}]}}`,
		`[`, `null`, `{"jobName":7}`,
		`{"jobName":"a","jobQueue":"feedbatch","jobDefinition":"d","tags":{"":"x"}}`,
		`{"jobName":"a","jobQueue":"feedbatch","jobDefinition":"d","propagateTags":true,"tags":{"k":"v","aws:x":"1"}}`,
		`{"jobName":"a","jobQueue":"feedbatch","jobDefinition":"d","tags":{"k":"\u00e9\u00e9"},"propagateTags":true}`,
	} {
		f.Add(s)
	}
	eng, err := local.Open(f.Context(), local.Config{Dir: f.TempDir(), VCPUs: 1, MemoryMiB: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { eng.Close() })
	h := eng.APIHandler()
	reg := `{"jobDefinitionName":"d","type":"container","containerProperties":{"image":"x","command":["false"],"resourceRequirements":[{"type":"VCPU","value":"2"}]}}`
	rec := newRecorder()
	h.ServeHTTP(rec, mustRequest("/v1/registerjobdefinition", reg))
	if rec.code != 200 {
		f.Fatalf("register: %d %s", rec.code, rec.body.String())
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := newRecorder()
		h.ServeHTTP(rec, mustRequest("/v1/submitjob", body))
		switch rec.code {
		case 200:
		case 400:
			var m map[string]string
			if err := json.Unmarshal(rec.body.Bytes(), &m); err != nil || m["__type"] != "ClientException" || m["message"] == "" {
				t.Errorf("400 body %q", rec.body.String())
			}
		default:
			t.Errorf("status %d: %s", rec.code, rec.body.String())
		}
	})
}

type recorder struct {
	h    http.Header
	code int
	body bytes.Buffer
}

func newRecorder() *recorder                    { return &recorder{h: http.Header{}, code: 200} }
func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func mustRequest(path, body string) *http.Request {
	req, err := http.NewRequest("POST", "http://local"+path, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	return req
}

// TestLedger pins choices of DIFFERENCES.md that no other test covers.
func TestLedger(t *testing.T) {
	c, _ := newTC(t, local.Config{VCPUs: 4, MemoryMiB: 1024, MinTimeoutSeconds: 1, KillGrace: time.Second})
	c.def("fail1", sh(`[ "$AWS_BATCH_JOB_ARRAY_INDEX" != 1 ]`))
	c.def("sleep", sh("sleep 600"))
	arr := c.submit("fail1", func(in *batch.SubmitJobInput) { in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)} })
	p := c.wait(arr)
	if p.Status != types.JobStatusFailed || aws.ToString(p.StatusReason) != "Array Child Job failed" {
		t.Errorf("parent: %s %q, want FAILED %q", p.Status, aws.ToString(p.StatusReason), "Array Child Job failed")
	}
	if got, want := aws.ToString(c.get(arr+":1").JobArn), "arn:aws:batch:us-east-1:000000000000:job/"+arr+":1"; got != want {
		t.Errorf("child jobArn %q, want %q", got, want)
	}
	for i := range 2 {
		k := c.get(fmt.Sprintf("%s:%d", arr, i))
		if aws.ToInt64(p.StartedAt) == 0 || aws.ToInt64(p.StartedAt) > aws.ToInt64(k.StartedAt) || aws.ToInt64(p.StoppedAt) < aws.ToInt64(k.StoppedAt) {
			t.Errorf("parent %d..%d does not span child %d (%d..%d)", aws.ToInt64(p.StartedAt), aws.ToInt64(p.StoppedAt),
				i, aws.ToInt64(k.StartedAt), aws.ToInt64(k.StoppedAt))
		}
	}

	// Tags stay on the job, not its children; SHARE_IDENTIFIER lists
	// nothing; a queue listing is in submission order.
	tagged := c.submit("fail1", func(in *batch.SubmitJobInput) {
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
		in.Tags = map[string]string{"stage": "feed"}
	})
	c.wait(tagged)
	if got := c.get(tagged).Tags; got["stage"] != "feed" {
		t.Errorf("parent tags %v", got)
	}
	if got := c.get(tagged + ":0").Tags; len(got) != 0 {
		t.Errorf("child tags %v, want none", got)
	}
	share, err := c.c.ListJobs(t.Context(), &batch.ListJobsInput{JobQueue: aws.String("feedbatch"),
		Filters: []types.KeyValuesPair{{Name: aws.String("SHARE_IDENTIFIER"), Values: []string{"*"}}}})
	if err != nil || len(share.JobSummaryList) != 0 {
		t.Errorf("SHARE_IDENTIFIER listing: %d jobs, %v", len(share.JobSummaryList), err)
	}
	failed, err := c.c.ListJobs(t.Context(), &batch.ListJobsInput{JobQueue: aws.String("feedbatch"), JobStatus: types.JobStatusFailed})
	if err != nil || len(failed.JobSummaryList) != 2 || *failed.JobSummaryList[0].JobId != arr || *failed.JobSummaryList[1].JobId != tagged {
		t.Errorf("FAILED listing not in submission order: %v", err)
	}

	// Without resourceRequirements a job takes 1 vCPU (it fits a 1-vCPU
	// engine; 2 such jobs run one after the other there).
	c1, _ := newTC(t, local.Config{VCPUs: 1, MemoryMiB: 64})
	c1.def("bare", sh("true"), func(in *batch.RegisterJobDefinitionInput) { in.ContainerProperties.ResourceRequirements = nil })
	if j := c1.wait(c1.submit("bare")); j.Status != types.JobStatusSucceeded {
		t.Errorf("job without requirements: %s %q", j.Status, aws.ToString(j.StatusReason))
	}
	blocker := c.submit("sleep")
	cancelled := c.submit("sleep", func(in *batch.SubmitJobInput) {
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
		in.DependsOn = []types.JobDependency{{JobId: aws.String(blocker)}}
	})
	// An array waiting for a dependency is PENDING, not SUBMITTED.
	c.waitStatus(cancelled, types.JobStatusPending)
	if _, err := c.c.CancelJob(t.Context(), &batch.CancelJobInput{JobId: aws.String(cancelled), Reason: aws.String("stop it")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.c.TerminateJob(t.Context(), &batch.TerminateJobInput{JobId: aws.String(blocker), Reason: aws.String("unblock")}); err != nil {
		t.Fatal(err)
	}
	if j := c.wait(cancelled); aws.ToString(j.StatusReason) != "stop it" || !aws.ToBool(j.IsCancelled) {
		t.Errorf("cancelled parent: %q cancelled=%v", aws.ToString(j.StatusReason), aws.ToBool(j.IsCancelled))
	}
	// What the job leaves running in the background ends with it.
	out := t.TempDir()
	c.def("bg", sh(`sleep 600 & echo $! > "$OUT/pid"`))
	bg := c.wait(c.submit("bg", func(in *batch.SubmitJobInput) {
		in.ContainerOverrides = &types.ContainerOverrides{Environment: []types.KeyValuePair{{Name: aws.String("OUT"), Value: aws.String(out)}}}
	}))
	if bg.Status != types.JobStatusSucceeded {
		t.Errorf("background job: %s", bg.Status)
	}
	pid, err := os.ReadFile(filepath.Join(out, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break // gone, or a zombie waiting for init
		}
		if time.Now().After(deadline) {
			t.Errorf("background process %s still running after its job ended", strings.TrimSpace(string(pid)))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	timed := c.wait(c.submit("sleep", func(in *batch.SubmitJobInput) {
		in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(1)}
	}))
	if got := exitCode(timed); got != int32(143) {
		t.Errorf("timed-out exit code %v, want 143 (SIGTERM)", got)
	}
}

// TestDirInUse: a second engine on the same directory is refused until the
// first is closed.
func TestDirInUse(t *testing.T) {
	dir := t.TempDir()
	eng, err := local.Open(t.Context(), local.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := local.Open(t.Context(), local.Config{Dir: dir}); !errors.Is(err, local.ErrDirInUse) {
		t.Errorf("second Open: %v, want ErrDirInUse", err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng, err = local.Open(t.Context(), local.Config{Dir: dir})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	eng.Close()
}
