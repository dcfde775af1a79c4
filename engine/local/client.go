package local

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// Region is the region the engine answers for and puts into ARNs.
const Region = region

// BatchClient returns an aws-sdk-go-v2 Batch client for the engine at
// endpoint (as returned by Start) that signs with creds (the engine's:
// Engine.Credentials or LoadCredentials).
func BatchClient(endpoint string, creds aws.CredentialsProvider, optFns ...func(*batch.Options)) *batch.Client {
	return batch.New(batch.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       Region,
		Credentials:  creds,
	}, optFns...)
}

// LogsClient returns a CloudWatch Logs client whose GetLogEvents reads the
// engine's attempt logs (group LogGroup, stream = logStreamName).
func LogsClient(endpoint string, creds aws.CredentialsProvider, optFns ...func(*cloudwatchlogs.Options)) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       Region,
		Credentials:  creds,
	}, optFns...)
}
