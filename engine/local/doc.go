// Package local is a local AWS Batch: an HTTP server on loopback that speaks
// the AWS Batch REST-JSON API (SubmitJob, DescribeJobs, ListJobs, CancelJob,
// TerminateJob, RegisterJobDefinition, DeregisterJobDefinition,
// DescribeJobDefinitions, DescribeJobQueues, DescribeComputeEnvironments,
// TagResource, UntagResource, ListTagsForResource) and CloudWatch Logs
// GetLogEvents, so that aws-sdk-go-v2, the AWS CLI and boto3 drive it
// exactly as they drive AWS Batch.
//
// Each job runs as a local process of its job definition's container
// command (after Ref::name parameter substitution and containerOverrides),
// with the environment AWS Batch gives a container: AWS_BATCH_JOB_ID,
// AWS_BATCH_JOB_ATTEMPT, AWS_BATCH_JQ_NAME, AWS_BATCH_CE_NAME and, for array
// children, AWS_BATCH_JOB_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_SIZE. A command
// whose first word's base name is "feedbatch" runs Config.Self (the current
// executable by default), so one set of job definitions serves the container
// image and local runs.
//
// The engine has one job queue (Config.QueueName) on one compute
// environment (Config.CEName) with a vCPU and memory budget; jobs wait
// RUNNABLE until their resourceRequirements fit. Each attempt's stdout and
// stderr go to one file, the attempt's log stream, named as AWS names it
// and kept in the definition's awslogs-group (see LogPath). The job
// table is a journal under Config.Dir, so finished jobs are still described
// after a restart and unfinished ones are resumed.
//
// Inside, the decisions (the next status after an attempt, dependency
// satisfaction, a waiting job's and an array parent's next status, an
// attempt's timeout) are pure functions in decide.go; sched.go and run.go
// apply them, and every status change goes through one check that refuses
// an illegal one (an *engine.TransitionError). Timeouts and the kill grace
// run on Config.Clock.
//
// What the engine does where AWS Batch is undocumented, and where it
// deliberately differs, is listed in DIFFERENCES.md beside this file; each
// entry is pinned by a test.
package local
