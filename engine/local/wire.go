package local

import "encoding/json"

// Wire shapes of the AWS Batch REST-JSON protocol (service version
// 2016-08-10), with the member names of the API model. Only the members the
// engine reads or writes are typed; unknown request members are ignored, and
// a job definition's containerProperties are kept verbatim (raw) so that
// DescribeJobDefinitions and DescribeJobs echo what was registered.

type keyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type resourceRequirement struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type evaluateOnExit struct {
	Action         string `json:"action"`
	OnExitCode     string `json:"onExitCode,omitempty"`
	OnReason       string `json:"onReason,omitempty"`
	OnStatusReason string `json:"onStatusReason,omitempty"`
}

type retryStrategy struct {
	Attempts       *int32           `json:"attempts,omitempty"`
	EvaluateOnExit []evaluateOnExit `json:"evaluateOnExit,omitempty"`
}

type jobTimeout struct {
	AttemptDurationSeconds *int32 `json:"attemptDurationSeconds,omitempty"`
}

type jobDependency struct {
	JobID string `json:"jobId,omitempty"`
	Type  string `json:"type,omitempty"`
}

// containerProps are the members of ContainerProperties the engine uses.
type containerProps struct {
	Image                string                `json:"image,omitempty"`
	Vcpus                *int32                `json:"vcpus,omitempty"`
	Memory               *int32                `json:"memory,omitempty"`
	Command              []string              `json:"command,omitempty"`
	Environment          []keyValue            `json:"environment,omitempty"`
	ResourceRequirements []resourceRequirement `json:"resourceRequirements,omitempty"`
}

type containerOverrides struct {
	Vcpus                *int32                `json:"vcpus,omitempty"`
	Memory               *int32                `json:"memory,omitempty"`
	Command              []string              `json:"command,omitempty"`
	InstanceType         string                `json:"instanceType,omitempty"`
	Environment          []keyValue            `json:"environment,omitempty"`
	ResourceRequirements []resourceRequirement `json:"resourceRequirements,omitempty"`
}

type arrayProperties struct {
	Size *int32 `json:"size,omitempty"`
}

type submitJobInput struct {
	JobName            string              `json:"jobName"`
	JobQueue           string              `json:"jobQueue"`
	JobDefinition      string              `json:"jobDefinition"`
	ArrayProperties    *arrayProperties    `json:"arrayProperties,omitempty"`
	DependsOn          []jobDependency     `json:"dependsOn,omitempty"`
	Parameters         map[string]string   `json:"parameters,omitempty"`
	ContainerOverrides *containerOverrides `json:"containerOverrides,omitempty"`
	RetryStrategy      *retryStrategy      `json:"retryStrategy,omitempty"`
	Timeout            *jobTimeout         `json:"timeout,omitempty"`
	Tags               map[string]string   `json:"tags,omitempty"`
	PropagateTags      *bool               `json:"propagateTags,omitempty"`
	ShareIdentifier    string              `json:"shareIdentifier,omitempty"`
	SchedulingPriority *int32              `json:"schedulingPriorityOverride,omitempty"`
	NodeOverrides      json.RawMessage     `json:"nodeOverrides,omitempty"`
	EksOverride        json.RawMessage     `json:"eksPropertiesOverride,omitempty"`
	EcsOverride        json.RawMessage     `json:"ecsPropertiesOverride,omitempty"`
}

type submitJobOutput struct {
	JobArn  string `json:"jobArn"`
	JobName string `json:"jobName"`
	JobID   string `json:"jobId"`
}

type registerJobDefinitionInput struct {
	JobDefinitionName   string            `json:"jobDefinitionName"`
	Type                string            `json:"type"`
	Parameters          map[string]string `json:"parameters,omitempty"`
	ContainerProperties json.RawMessage   `json:"containerProperties,omitempty"`
	RetryStrategy       *retryStrategy    `json:"retryStrategy,omitempty"`
	Timeout             *jobTimeout       `json:"timeout,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
	PropagateTags       *bool             `json:"propagateTags,omitempty"`
	PlatformCaps        []string          `json:"platformCapabilities,omitempty"`
	SchedulingPriority  *int32            `json:"schedulingPriority,omitempty"`
	NodeProperties      json.RawMessage   `json:"nodeProperties,omitempty"`
	EksProperties       json.RawMessage   `json:"eksProperties,omitempty"`
	EcsProperties       json.RawMessage   `json:"ecsProperties,omitempty"`
}

type registerJobDefinitionOutput struct {
	JobDefinitionName string `json:"jobDefinitionName"`
	JobDefinitionArn  string `json:"jobDefinitionArn"`
	Revision          int32  `json:"revision"`
}

// jobDefinition is both the wire shape of DescribeJobDefinitions and the
// persisted form of a registered revision.
type jobDefinition struct {
	JobDefinitionName   string            `json:"jobDefinitionName"`
	JobDefinitionArn    string            `json:"jobDefinitionArn"`
	Revision            int32             `json:"revision"`
	Status              string            `json:"status"`
	Type                string            `json:"type"`
	Parameters          map[string]string `json:"parameters,omitempty"`
	ContainerProperties json.RawMessage   `json:"containerProperties,omitempty"`
	RetryStrategy       *retryStrategy    `json:"retryStrategy,omitempty"`
	Timeout             *jobTimeout       `json:"timeout,omitempty"`
	Tags                map[string]string `json:"tags,omitempty"`
	PropagateTags       *bool             `json:"propagateTags,omitempty"`
	PlatformCaps        []string          `json:"platformCapabilities,omitempty"`
	SchedulingPriority  *int32            `json:"schedulingPriority,omitempty"`
	ContainerOrchType   string            `json:"containerOrchestrationType,omitempty"`

	props containerProps // parsed ContainerProperties
}

type describeJobDefinitionsInput struct {
	JobDefinitions    []string `json:"jobDefinitions,omitempty"`
	JobDefinitionName string   `json:"jobDefinitionName,omitempty"`
	Status            string   `json:"status,omitempty"`
	MaxResults        *int32   `json:"maxResults,omitempty"`
	NextToken         string   `json:"nextToken,omitempty"`
}

type describeJobDefinitionsOutput struct {
	JobDefinitions []*jobDefinition `json:"jobDefinitions"`
	NextToken      *string          `json:"nextToken,omitempty"`
}

type deregisterJobDefinitionInput struct {
	JobDefinition string `json:"jobDefinition"`
}

type describeJobsInput struct {
	Jobs []string `json:"jobs"`
}

type describeJobsOutput struct {
	Jobs []*jobDetail `json:"jobs"`
}

type attemptContainer struct {
	ContainerInstanceArn string `json:"containerInstanceArn,omitempty"`
	TaskArn              string `json:"taskArn,omitempty"`
	ExitCode             *int32 `json:"exitCode,omitempty"`
	Reason               string `json:"reason,omitempty"`
	LogStreamName        string `json:"logStreamName,omitempty"`
}

type attemptDetail struct {
	Container    *attemptContainer `json:"container,omitempty"`
	StartedAt    int64             `json:"startedAt,omitempty"`
	StoppedAt    int64             `json:"stoppedAt,omitempty"`
	StatusReason string            `json:"statusReason,omitempty"`
}

type arrayPropertiesDetail struct {
	StatusSummary              map[string]int32 `json:"statusSummary,omitempty"`
	StatusSummaryLastUpdatedAt int64            `json:"statusSummaryLastUpdatedAt,omitempty"`
	Size                       *int32           `json:"size,omitempty"`
	Index                      *int32           `json:"index,omitempty"`
}

type jobDetail struct {
	JobArn               string                 `json:"jobArn"`
	JobName              string                 `json:"jobName"`
	JobID                string                 `json:"jobId"`
	JobQueue             string                 `json:"jobQueue"`
	Status               string                 `json:"status"`
	ShareIdentifier      string                 `json:"shareIdentifier,omitempty"`
	SchedulingPriority   *int32                 `json:"schedulingPriority,omitempty"`
	Attempts             []attemptDetail        `json:"attempts"`
	StatusReason         string                 `json:"statusReason,omitempty"`
	CreatedAt            int64                  `json:"createdAt,omitempty"`
	RetryStrategy        *retryStrategy         `json:"retryStrategy,omitempty"`
	StartedAt            int64                  `json:"startedAt,omitempty"`
	StoppedAt            int64                  `json:"stoppedAt,omitempty"`
	DependsOn            []jobDependency        `json:"dependsOn"`
	JobDefinition        string                 `json:"jobDefinition"`
	Parameters           map[string]string      `json:"parameters,omitempty"`
	Container            map[string]any         `json:"container,omitempty"`
	ArrayProperties      *arrayPropertiesDetail `json:"arrayProperties,omitempty"`
	Timeout              *jobTimeout            `json:"timeout,omitempty"`
	Tags                 map[string]string      `json:"tags,omitempty"`
	PropagateTags        *bool                  `json:"propagateTags,omitempty"`
	PlatformCapabilities []string               `json:"platformCapabilities,omitempty"`
	IsCancelled          bool                   `json:"isCancelled"`
	IsTerminated         bool                   `json:"isTerminated"`
}

type keyValuesPair struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

type listJobsInput struct {
	JobQueue       string          `json:"jobQueue,omitempty"`
	ArrayJobID     string          `json:"arrayJobId,omitempty"`
	MultiNodeJobID string          `json:"multiNodeJobId,omitempty"`
	JobStatus      string          `json:"jobStatus,omitempty"`
	MaxResults     *int32          `json:"maxResults,omitempty"`
	NextToken      string          `json:"nextToken,omitempty"`
	Filters        []keyValuesPair `json:"filters,omitempty"`
}

type containerSummary struct {
	ExitCode *int32 `json:"exitCode,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

type jobSummary struct {
	JobArn          string                 `json:"jobArn"`
	JobID           string                 `json:"jobId"`
	JobName         string                 `json:"jobName"`
	CreatedAt       int64                  `json:"createdAt,omitempty"`
	StartedAt       int64                  `json:"startedAt,omitempty"`
	StoppedAt       int64                  `json:"stoppedAt,omitempty"`
	Status          string                 `json:"status"`
	StatusReason    string                 `json:"statusReason,omitempty"`
	Container       *containerSummary      `json:"container,omitempty"`
	ArrayProperties *arrayPropertiesDetail `json:"arrayProperties,omitempty"`
	JobDefinition   string                 `json:"jobDefinition,omitempty"`
	ShareIdentifier string                 `json:"shareIdentifier,omitempty"`
}

type listJobsOutput struct {
	JobSummaryList []jobSummary `json:"jobSummaryList"`
	NextToken      *string      `json:"nextToken,omitempty"`
}

type cancelJobInput struct {
	JobID  string `json:"jobId"`
	Reason string `json:"reason"`
}

type computeEnvironmentOrder struct {
	Order              int32  `json:"order"`
	ComputeEnvironment string `json:"computeEnvironment"`
}

type jobQueueDetail struct {
	JobQueueName            string                    `json:"jobQueueName"`
	JobQueueArn             string                    `json:"jobQueueArn"`
	State                   string                    `json:"state"`
	Status                  string                    `json:"status"`
	StatusReason            string                    `json:"statusReason"`
	Priority                int32                     `json:"priority"`
	ComputeEnvironmentOrder []computeEnvironmentOrder `json:"computeEnvironmentOrder"`
	JobQueueType            string                    `json:"jobQueueType,omitempty"`
}

type describeJobQueuesInput struct {
	JobQueues  []string `json:"jobQueues,omitempty"`
	MaxResults *int32   `json:"maxResults,omitempty"`
	NextToken  string   `json:"nextToken,omitempty"`
}

type describeJobQueuesOutput struct {
	JobQueues []jobQueueDetail `json:"jobQueues"`
}

type computeResource struct {
	Type          string   `json:"type"`
	MinvCpus      int32    `json:"minvCpus"`
	MaxvCpus      int32    `json:"maxvCpus"`
	DesiredvCpus  int32    `json:"desiredvCpus"`
	InstanceTypes []string `json:"instanceTypes"`
	Subnets       []string `json:"subnets"`
}

type computeEnvironmentDetail struct {
	ComputeEnvironmentName string           `json:"computeEnvironmentName"`
	ComputeEnvironmentArn  string           `json:"computeEnvironmentArn"`
	Type                   string           `json:"type"`
	State                  string           `json:"state"`
	Status                 string           `json:"status"`
	StatusReason           string           `json:"statusReason"`
	ComputeResources       *computeResource `json:"computeResources,omitempty"`
	ContainerOrchType      string           `json:"containerOrchestrationType,omitempty"`
}

type describeComputeEnvironmentsInput struct {
	ComputeEnvironments []string `json:"computeEnvironments,omitempty"`
}

type describeComputeEnvironmentsOutput struct {
	ComputeEnvironments []computeEnvironmentDetail `json:"computeEnvironments"`
}
