package planner

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/store"
)

// fakeBatch records submissions and answers ListJobs/DescribeJobs from a
// table the test fills in. It checks the Batch rules the planner must keep.
type fakeBatch struct {
	mu        sync.Mutex
	submitted []*batch.SubmitJobInput
	ids       []string
	// children: job id -> child status summaries (arrays) or the job itself.
	children map[string][]types.JobSummary
	// failSubmit makes the n-th SubmitJob (1-based) fail after creating the job.
	failSubmitAfterCreate int
}

func newFake() *fakeBatch { return &fakeBatch{children: map[string][]types.JobSummary{}} }

func (f *fakeBatch) SubmitJob(ctx context.Context, in *batch.SubmitJobInput, _ ...func(*batch.Options)) (*batch.SubmitJobOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.ArrayProperties != nil {
		if n := aws.ToInt32(in.ArrayProperties.Size); n < 2 || n > 10000 {
			return nil, fmt.Errorf("ClientException: array size %d", n)
		}
	}
	if len(in.DependsOn) > 20 {
		return nil, fmt.Errorf("ClientException: too many dependencies")
	}
	for _, e := range in.ContainerOverrides.Environment {
		if strings.HasPrefix(aws.ToString(e.Name), "AWS_BATCH") {
			return nil, fmt.Errorf("ClientException: reserved env %s", aws.ToString(e.Name))
		}
	}
	id := fmt.Sprintf("job-%d", len(f.ids)+1)
	f.submitted = append(f.submitted, in)
	f.ids = append(f.ids, id)
	if f.failSubmitAfterCreate == len(f.ids) {
		return nil, fmt.Errorf("connection reset")
	}
	return &batch.SubmitJobOutput{JobId: aws.String(id), JobName: in.JobName}, nil
}

func (f *fakeBatch) ListJobs(ctx context.Context, in *batch.ListJobsInput, _ ...func(*batch.Options)) (*batch.ListJobsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &batch.ListJobsOutput{}
	if len(in.Filters) > 0 {
		name := in.Filters[0].Values[0]
		for i, s := range f.submitted {
			if aws.ToString(s.JobName) == name {
				out.JobSummaryList = append(out.JobSummaryList, types.JobSummary{JobId: aws.String(f.ids[i]), JobName: s.JobName, CreatedAt: aws.Int64(int64(i))})
			}
		}
		return out, nil
	}
	// Pages of 2 to exercise paging.
	var match []types.JobSummary
	for _, c := range f.children[aws.ToString(in.ArrayJobId)] {
		if c.Status == in.JobStatus {
			match = append(match, c)
		}
	}
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	end := min(start+2, len(match))
	out.JobSummaryList = match[start:end]
	if end < len(match) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func (f *fakeBatch) DescribeJobs(ctx context.Context, in *batch.DescribeJobsInput, _ ...func(*batch.Options)) (*batch.DescribeJobsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(in.Jobs) > 100 {
		return nil, fmt.Errorf("ClientException: Maximum number of jobs supported is 100")
	}
	out := &batch.DescribeJobsOutput{}
	for _, id := range in.Jobs {
		parent, idx, isChild := strings.Cut(id, ":")
		for _, c := range f.children[parent] {
			if isChild && c.ArrayProperties != nil && fmt.Sprint(aws.ToInt32(c.ArrayProperties.Index)) == idx ||
				!isChild && aws.ToString(c.JobId) == id {
				d := types.JobDetail{JobId: c.JobId, Status: c.Status, StatusReason: c.StatusReason, StartedAt: c.StartedAt, StoppedAt: c.StoppedAt}
				if c.Container != nil {
					d.Container = &types.ContainerDetail{ExitCode: c.Container.ExitCode}
					d.Attempts = []types.AttemptDetail{{Container: &types.AttemptContainerDetail{ExitCode: c.Container.ExitCode, LogStreamName: aws.String("stream-" + id)}}}
				}
				out.Jobs = append(out.Jobs, d)
			}
		}
	}
	return out, nil
}

// env returns the job's environment as a map.
func env(in *batch.SubmitJobInput) map[string]string {
	m := map[string]string{}
	for _, e := range in.ContainerOverrides.Environment {
		m[aws.ToString(e.Name)] = aws.ToString(e.Value)
	}
	return m
}

// overwriteRecord puts rec in place as a planner that died would have left
// it (an unconditional write, as no planner does).
func overwriteRecord(t *testing.T, st store.Store, rec *Record) {
	t.Helper()
	b, err := encodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), rec.Key(), bytes.NewReader(b), nil); err != nil {
		t.Fatal(err)
	}
}
