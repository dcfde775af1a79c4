package local_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/engine/local"
)

// BenchmarkArray measures the engine's throughput on an array of `true`
// (FEEDBATCH_BENCH_SIZE children, default 1,000; bench/engine.sh runs
// 10,000 in a separate process and reports its peak RSS).
func BenchmarkArray(b *testing.B) {
	size := 1000
	if n, err := strconv.Atoi(os.Getenv("FEEDBATCH_BENCH_SIZE")); err == nil && n >= 2 {
		size = n
	}
	eng, ep, err := local.Start(b.Context(), local.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	c := local.BatchClient(ep, eng.Credentials())
	ctx := b.Context()
	_, err = c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("true"), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String("x"), Command: []string{"true"},
			ResourceRequirements: res("0.5", "16")},
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		out, err := c.SubmitJob(ctx, &batch.SubmitJobInput{JobName: aws.String("bench"), JobQueue: aws.String("feedbatch"),
			JobDefinition: aws.String("true"), ArrayProperties: &types.ArrayProperties{Size: aws.Int32(int32(size))}})
		if err != nil {
			b.Fatal(err)
		}
		for {
			d, err := c.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{*out.JobId}})
			if err != nil {
				b.Fatal(err)
			}
			if st := d.Jobs[0].Status; st == types.JobStatusSucceeded {
				break
			} else if st == types.JobStatusFailed {
				b.Fatalf("array failed: %v", d.Jobs[0].ArrayProperties.StatusSummary)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "children/s")
}
