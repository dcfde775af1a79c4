// Package enginetest is the conformance suite of AWS Batch engines: it pins
// the documented AWS Batch behaviour that feedbatch relies on (array jobs,
// N_TO_N and SEQUENTIAL dependencies, parent status, retries, timeouts,
// cancel and terminate, ListJobs and DescribeJobs, request limits, tags,
// log stream names). It is written against the Batch API (and CloudWatch
// Logs GetLogEvents) only, through aws-sdk-go-v2, so the same suite runs
// against the local engine and against AWS Batch.
//
// Each engine's test is one call:
//
//	enginetest.Run(t, func(t *testing.T) enginetest.Harness { ... })
package enginetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// Harness is what the suite needs of an engine.
type Harness struct {
	// Client talks to the engine.
	Client *batch.Client
	// Queue is the job queue the suite submits to (name or ARN).
	Queue string
	// Image is the container image of the suite's job definitions; it must
	// have /bin/sh, sleep and the usual shell tools. Ignored by the local
	// engine.
	Image string
	// Resources are the resourceRequirements of every job definition
	// (default VCPU 0.25, MEMORY 128).
	Resources []types.ResourceRequirement
	// Prepare, if set, adjusts each job definition before it is registered
	// (roles, platform capabilities, network configuration on AWS).
	Prepare func(*batch.RegisterJobDefinitionInput)
	// MinTimeoutSeconds is the smallest attemptDurationSeconds the engine
	// accepts (60 on AWS).
	MinTimeoutSeconds int32
	// KillGrace is the time between SIGTERM and SIGKILL (30 s on AWS).
	KillGrace time.Duration
	// Advance, if set, moves the engine's clock forward by d, firing the
	// timeouts and kill graces that become due; the timeout tests then
	// take no real time. Without it (AWS) they wait for the real clock.
	Advance func(d time.Duration)
	// Poll is the DescribeJobs polling interval (default 50 ms).
	Poll time.Duration
	// Wait bounds how long one job may take to finish (default 60 s).
	Wait time.Duration
	// Logs, if set, reads the jobs' log streams (the LogStreams test is
	// skipped without it).
	Logs *cloudwatchlogs.Client
	// LogGroup is an existing log group the LogStreams test names as its
	// job definition's awslogs-group (default /aws/batch/job).
	LogGroup string
}

// Run runs the suite, or only the tests named in only; newHarness is called
// once per test, which may run in parallel with the others.
func Run(t *testing.T, newHarness func(t *testing.T) Harness, only ...string) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"Validation", testValidation},
		{"ArrayChildren", testArrayChildren},
		{"ParentStatus", testParentStatus},
		{"Parameters", testParameters},
		{"NToN", testNToN},
		{"Sequential", testSequential},
		{"PlainDependency", testPlainDependency},
		{"Retry", testRetry},
		{"Timeout", testTimeout},
		{"TimeoutKill", testTimeoutKill},
		{"Cancel", testCancel},
		{"Terminate", testTerminate},
		{"ListJobs", testListJobs},
		{"DescribeJobs", testDescribeJobs},
		{"JobDefinitions", testJobDefinitions},
		{"Limits", testLimits},
		{"PropagateTags", testPropagateTags},
		{"TagResource", testTagResource},
		{"LogStreams", testLogStreams},
	}
	for _, tc := range tests {
		if len(only) > 0 && !slices.Contains(only, tc.name) {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if h.Poll <= 0 {
				h.Poll = 50 * time.Millisecond
			}
			if h.Wait <= 0 {
				h.Wait = 60 * time.Second
			}
			if h.MinTimeoutSeconds <= 0 {
				h.MinTimeoutSeconds = 60
			}
			if h.LogGroup == "" {
				h.LogGroup = "/aws/batch/job"
			}
			if h.KillGrace <= 0 {
				h.KillGrace = 30 * time.Second
			}
			if len(h.Resources) == 0 {
				h.Resources = []types.ResourceRequirement{
					{Type: types.ResourceTypeVcpu, Value: aws.String("0.25")},
					{Type: types.ResourceTypeMemory, Value: aws.String("128")},
				}
			}
			tc.fn(t, &suite{h: h, tag: randTag()})
		})
	}
}

// Reasons AWS Batch writes (reference: aws-batch.md 3.4).
const (
	ReasonEssentialExited = "Essential container in task exited"
	ReasonDependentFailed = "Dependent Job failed"
	ReasonTimeout         = "Job attempt duration exceeded timeout"
)

type suite struct {
	h   Harness
	tag string // makes names unique per test
}

func randTag() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var nameRE = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// name makes a job or definition name from the test's name.
func (s *suite) name(t *testing.T, what string) string {
	n := nameRE.ReplaceAllString(t.Name(), "-")
	if len(n) > 80 {
		n = n[len(n)-80:]
	}
	n = strings.TrimLeft(n, "-_")
	return "et-" + s.tag + "-" + n + "-" + what
}

// def registers a job definition running `sh -c script` and returns its
// name.
func (s *suite) def(t *testing.T, script string, mod ...func(*batch.RegisterJobDefinitionInput)) string {
	t.Helper()
	in := s.defInput(t, script)
	for _, m := range mod {
		m(in)
	}
	out, err := s.h.Client.RegisterJobDefinition(t.Context(), in)
	if err != nil {
		t.Fatalf("RegisterJobDefinition: %v", err)
	}
	return *out.JobDefinitionName
}

func (s *suite) defInput(t *testing.T, script string) *batch.RegisterJobDefinitionInput {
	in := &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String(s.name(t, "def"+randTag())),
		Type:              types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{
			Image:                aws.String(s.h.Image),
			Command:              []string{"sh", "-c", script},
			ResourceRequirements: s.h.Resources,
		},
	}
	if s.h.Image == "" {
		in.ContainerProperties.Image = aws.String("busybox")
	}
	if s.h.Prepare != nil {
		s.h.Prepare(in)
	}
	return in
}

// in returns a SubmitJobInput for def.
func (s *suite) in(t *testing.T, def string) *batch.SubmitJobInput {
	return &batch.SubmitJobInput{
		JobName:       aws.String(s.name(t, "job")),
		JobQueue:      aws.String(s.h.Queue),
		JobDefinition: aws.String(def),
	}
}

func (s *suite) submit(t *testing.T, in *batch.SubmitJobInput) string {
	t.Helper()
	out, err := s.h.Client.SubmitJob(t.Context(), in)
	if err != nil {
		t.Fatalf("SubmitJob: %v", err)
	}
	if out.JobId == nil || *out.JobId == "" {
		t.Fatal("SubmitJob returned no jobId")
	}
	if aws.ToString(out.JobName) != aws.ToString(in.JobName) {
		t.Errorf("SubmitJob jobName = %q, want %q", aws.ToString(out.JobName), aws.ToString(in.JobName))
	}
	return *out.JobId
}

// describe returns the jobs by id (missing ids are absent from the map).
func (s *suite) describe(t *testing.T, ids ...string) map[string]types.JobDetail {
	t.Helper()
	out := map[string]types.JobDetail{}
	for len(ids) > 0 {
		n := min(len(ids), 100)
		res, err := s.h.Client.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: ids[:n]})
		if err != nil {
			t.Fatalf("DescribeJobs: %v", err)
		}
		for _, j := range res.Jobs {
			out[*j.JobId] = j
		}
		ids = ids[n:]
	}
	return out
}

func (s *suite) one(t *testing.T, id string) types.JobDetail {
	t.Helper()
	m := s.describe(t, id)
	j, ok := m[id]
	if !ok {
		t.Fatalf("DescribeJobs does not know job %s", id)
	}
	return j
}

// waitFor polls until cond holds for the job, and returns it.
func (s *suite) waitFor(t *testing.T, id string, what string, cond func(types.JobDetail) bool) types.JobDetail {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), s.h.Wait)
	defer cancel()
	for {
		j := s.one(t, id)
		if cond(j) {
			return j
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s: not %s after %v (status %s, reason %q)", id, what, s.h.Wait, j.Status, aws.ToString(j.StatusReason))
		case <-time.After(s.h.Poll):
		}
	}
}

// poll calls cond until it holds, failing the test after Wait.
func (s *suite) poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), s.h.Wait)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("no %s after %v", what, s.h.Wait)
		case <-time.After(s.h.Poll):
		}
	}
}

func terminal(j types.JobDetail) bool {
	return j.Status == types.JobStatusSucceeded || j.Status == types.JobStatusFailed
}

// wait waits until the job is terminal.
func (s *suite) wait(t *testing.T, id string) types.JobDetail {
	t.Helper()
	return s.waitFor(t, id, "terminal", terminal)
}

func (s *suite) waitStatus(t *testing.T, id string, st types.JobStatus) types.JobDetail {
	t.Helper()
	return s.waitFor(t, id, string(st), func(j types.JobDetail) bool { return j.Status == st })
}

func children(parent string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s:%d", parent, i)
	}
	return ids
}

func wantStatus(t *testing.T, j types.JobDetail, st types.JobStatus, reason string) {
	t.Helper()
	if j.Status != st {
		t.Errorf("job %s: status %s (reason %q), want %s", *j.JobId, j.Status, aws.ToString(j.StatusReason), st)
	}
	if reason != "" && aws.ToString(j.StatusReason) != reason {
		t.Errorf("job %s: statusReason %q, want %q", *j.JobId, aws.ToString(j.StatusReason), reason)
	}
}

func isClientException(err error) bool {
	var ce *types.ClientException
	return errors.As(err, &ce)
}

func exitCodes(j types.JobDetail) []int32 {
	var out []int32
	for _, a := range j.Attempts {
		if a.Container != nil && a.Container.ExitCode != nil {
			out = append(out, *a.Container.ExitCode)
		} else {
			out = append(out, -1)
		}
	}
	return out
}

func ms(p *int64) int64 { return aws.ToInt64(p) }
