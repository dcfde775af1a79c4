package local

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// Region is the region the engine answers for and puts into ARNs.
const Region = region

// dummyCreds are the static credentials the SDK signs with; the engine does
// not check signatures.
var dummyCreds = credentials.NewStaticCredentialsProvider("local", "local", "")

// BatchClient returns an aws-sdk-go-v2 Batch client for the engine at
// endpoint (as returned by Start), with dummy credentials.
func BatchClient(endpoint string, optFns ...func(*batch.Options)) *batch.Client {
	return batch.New(batch.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       Region,
		Credentials:  dummyCreds,
	}, optFns...)
}

// LogsClient returns a CloudWatch Logs client whose GetLogEvents reads the
// engine's attempt logs (group LogGroup, stream = logStreamName).
func LogsClient(endpoint string, optFns ...func(*cloudwatchlogs.Options)) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       Region,
		Credentials:  dummyCreds,
	}, optFns...)
}
