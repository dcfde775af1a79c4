package enginetest_test

import (
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/feedbatch/feedbatch/engine/enginetest"
)

// TestAWS runs the suite against real AWS Batch. It needs
// FEEDBATCH_AWS_TEST=1, credentials in the usual places, and
// FEEDBATCH_AWS_QUEUE (a job queue), FEEDBATCH_AWS_IMAGE (an image with
// /bin/sh); for Fargate queues also FEEDBATCH_AWS_EXECUTION_ROLE;
// FEEDBATCH_AWS_LOG_GROUP names an existing log group for the LogStreams
// test (default /aws/batch/job).
func TestAWS(t *testing.T) {
	if os.Getenv("FEEDBATCH_AWS_TEST") != "1" {
		t.Skip("set FEEDBATCH_AWS_TEST=1 (and FEEDBATCH_AWS_QUEUE, FEEDBATCH_AWS_IMAGE) to run the suite against AWS Batch")
	}
	queue, image := os.Getenv("FEEDBATCH_AWS_QUEUE"), os.Getenv("FEEDBATCH_AWS_IMAGE")
	if queue == "" || image == "" {
		t.Fatal("FEEDBATCH_AWS_QUEUE and FEEDBATCH_AWS_IMAGE are required")
	}
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client := batch.NewFromConfig(cfg)
	role := os.Getenv("FEEDBATCH_AWS_EXECUTION_ROLE")
	enginetest.Run(t, func(t *testing.T) enginetest.Harness {
		h := enginetest.Harness{Client: client, Queue: queue, Image: image, Wait: 20 * time.Minute,
			Logs: cloudwatchlogs.NewFromConfig(cfg), LogGroup: os.Getenv("FEEDBATCH_AWS_LOG_GROUP")}
		if role != "" {
			h.Resources = []types.ResourceRequirement{
				{Type: types.ResourceTypeVcpu, Value: aws.String("0.25")},
				{Type: types.ResourceTypeMemory, Value: aws.String("512")},
			}
			h.Prepare = func(in *batch.RegisterJobDefinitionInput) {
				in.PlatformCapabilities = []types.PlatformCapability{types.PlatformCapabilityFargate}
				in.ContainerProperties.ExecutionRoleArn = aws.String(role)
				in.ContainerProperties.NetworkConfiguration = &types.NetworkConfiguration{AssignPublicIp: types.AssignPublicIpEnabled}
			}
		}
		return h
	})
}
