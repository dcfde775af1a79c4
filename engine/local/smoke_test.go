package local_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/feedbatch/feedbatch/engine/local"
)

func TestSmoke(t *testing.T) {
	ctx := t.Context()
	eng, ep, err := local.Start(ctx, local.Config{Dir: t.TempDir(), VCPUs: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	c := local.BatchClient(ep)
	_, err = c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("smoke"),
		Type:              types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{
			Image:   aws.String("x"),
			Command: []string{"sh", "-c", "echo hi $AWS_BATCH_JOB_ARRAY_INDEX"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.SubmitJob(ctx, &batch.SubmitJobInput{
		JobName: aws.String("s"), JobQueue: aws.String("feedbatch"), JobDefinition: aws.String("smoke"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(3)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := c.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{*out.JobId, *out.JobId + ":1"}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Jobs[0].Status == types.JobStatusSucceeded {
			t.Logf("%+v", d.Jobs[0].ArrayProperties)
			t.Logf("%+v %+v", d.Jobs[1].Attempts[0].Container, *d.Jobs[1].Container.LogStreamName)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err = c.SubmitJob(ctx, &batch.SubmitJobInput{
		JobName: aws.String("s"), JobQueue: aws.String("feedbatch"), JobDefinition: aws.String("smoke"),
		ArrayProperties: &types.ArrayProperties{Size: aws.Int32(1)},
	})
	t.Logf("err: %v", err)
}
