package local

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/feedbatch/feedbatch/engine"
)

// Limits of AWS Batch (reference: aws-batch.md sections 1-3).
const (
	minArraySize       = 2
	maxArraySize       = 10_000
	maxDependencies    = 20
	maxAttempts        = 10
	maxEvaluateOnExit  = 5
	maxDescribeJobs    = 100
	maxSubmitPayload   = 30 << 10
	maxJobDefinition   = 24 << 10
	maxOverridesLength = 8192
	maxReasonLength    = 1024
)

// Status reasons, as AWS Batch writes them.
const (
	reasonEssentialExited = "Essential container in task exited"
	reasonDependentFailed = "Dependent Job failed"
	reasonTimeout         = "Job attempt duration exceeded timeout"
	reasonHostLost        = "Host EC2 (instance local) terminated."
	reasonTaskNotStarted  = "Task failed to start"
	reasonCannotFit       = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than that can be met by the CE(s) attached to the job queue."
	reasonOverridesLength = "Container Overrides length must be at most 8192"
	reasonArrayChild      = "Array Child Job failed"
)

var (
	jobNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)
	defNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	// onExitCode: digits, optional trailing '*'; onReason/onStatusReason:
	// letters, digits, '.', ':', whitespace, optional trailing '*'.
	exitCodeGlobRE = regexp.MustCompile(`^[0-9]*\*?$`)
	reasonGlobRE   = regexp.MustCompile(`^[A-Za-z0-9.:\s]*\*?$`)
	paramRefRE     = regexp.MustCompile(`Ref::([A-Za-z0-9_-]+)`)
)

// newID returns a random UUID (version 4), the form of AWS Batch job ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newTaskID returns a 32-hex-digit id, the form of ECS task ids.
func newTaskID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func checkEnv(env []keyValue, where string) error {
	for _, kv := range env {
		if kv.Name == "" {
			return clientErr("%s: environment variable name must not be empty", where)
		}
		if strings.HasPrefix(kv.Name, "AWS_BATCH") {
			return clientErr("%s: environment variable names cannot start with AWS_BATCH: %s", where, kv.Name)
		}
	}
	return nil
}

func checkCommand(cmd []string, where string) error {
	for _, c := range cmd {
		if c == "" {
			return clientErr("%s: command cannot contain an empty string", where)
		}
	}
	return nil
}

func (e *Engine) checkTimeout(t *jobTimeout) error {
	if t == nil || t.AttemptDurationSeconds == nil {
		return nil
	}
	if *t.AttemptDurationSeconds < e.cfg.MinTimeoutSeconds {
		return clientErr("timeout.attemptDurationSeconds must be at least %d, got %d", e.cfg.MinTimeoutSeconds, *t.AttemptDurationSeconds)
	}
	return nil
}

func checkRetry(r *retryStrategy) error {
	if r == nil {
		return nil
	}
	if r.Attempts == nil {
		if len(r.EvaluateOnExit) > 0 {
			return clientErr("retryStrategy.attempts is required when evaluateOnExit is given")
		}
		return nil
	}
	if a := *r.Attempts; a < 1 || a > maxAttempts {
		return clientErr("retryStrategy.attempts must be between 1 and %d, got %d", maxAttempts, a)
	}
	if len(r.EvaluateOnExit) > maxEvaluateOnExit {
		return clientErr("retryStrategy.evaluateOnExit can have at most %d entries, got %d", maxEvaluateOnExit, len(r.EvaluateOnExit))
	}
	for i, ev := range r.EvaluateOnExit {
		switch strings.ToUpper(ev.Action) {
		case "RETRY", "EXIT":
		default:
			return clientErr("retryStrategy.evaluateOnExit[%d].action must be RETRY or EXIT, got %q", i, ev.Action)
		}
		if ev.OnExitCode != "" && (len(ev.OnExitCode) > 512 || !exitCodeGlobRE.MatchString(ev.OnExitCode)) {
			return clientErr("Evaluate on exit condition contains restricted characters: onExitCode %q", ev.OnExitCode)
		}
		for _, s := range []string{ev.OnReason, ev.OnStatusReason} {
			if s != "" && (len(s) > 512 || !reasonGlobRE.MatchString(s)) {
				return clientErr("Evaluate on exit condition contains restricted characters: %q", s)
			}
		}
	}
	return nil
}

// resources are a job's effective requirements.
type resources struct {
	cpuMilli, memMiB, gpus int64
	reqs                   []resourceRequirement
}

func mergeResources(props containerProps, ov *containerOverrides) (resources, error) {
	byType := map[string]string{}
	var order []string
	set := func(t, v string) {
		if _, ok := byType[t]; !ok {
			order = append(order, t)
		}
		byType[t] = v
	}
	if props.Vcpus != nil {
		set("VCPU", strconv.Itoa(int(*props.Vcpus)))
	}
	if props.Memory != nil {
		set("MEMORY", strconv.Itoa(int(*props.Memory)))
	}
	for _, r := range props.ResourceRequirements {
		set(r.Type, r.Value)
	}
	if ov != nil {
		if ov.Vcpus != nil {
			set("VCPU", strconv.Itoa(int(*ov.Vcpus)))
		}
		if ov.Memory != nil {
			set("MEMORY", strconv.Itoa(int(*ov.Memory)))
		}
		for _, r := range ov.ResourceRequirements {
			set(r.Type, r.Value)
		}
	}
	res := resources{cpuMilli: 1000}
	for _, t := range order {
		v := byType[t]
		switch t {
		case "VCPU":
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || math.IsInf(f, 0) || f > 1e6 {
				return res, clientErr("resourceRequirements: VCPU must be a positive number, got %q", v)
			}
			res.cpuMilli = int64(math.Ceil(f * 1000))
		case "MEMORY":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return res, clientErr("resourceRequirements: MEMORY must be a positive whole number of MiB, got %q", v)
			}
			res.memMiB = n
		case "GPU":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return res, clientErr("resourceRequirements: GPU must be a whole number, got %q", v)
			}
			res.gpus = n
		default:
			return res, clientErr("resourceRequirements: type must be GPU, VCPU or MEMORY, got %q", t)
		}
		res.reqs = append(res.reqs, resourceRequirement{Type: t, Value: v})
	}
	return res, nil
}

// registerJobDefinition handles RegisterJobDefinition; size is the
// request's length, which is what the 24 KiB limit is measured on.
func (e *Engine) registerJobDefinition(in *registerJobDefinitionInput, size int) (*registerJobDefinitionOutput, error) {
	if size > maxJobDefinition {
		return nil, clientErr("Job definition size must be less than 24 KiB, got %d KiB", (size+1023)/1024)
	}
	if !defNameRE.MatchString(in.JobDefinitionName) {
		return nil, clientErr("jobDefinitionName must be 1-128 letters, numbers, hyphens or underscores, got %q", in.JobDefinitionName)
	}
	switch in.Type {
	case "container":
	case "multinode":
		return nil, clientErr("multinode job definitions are not supported by the local engine")
	default:
		return nil, clientErr("type must be container or multinode, got %q", in.Type)
	}
	if len(in.ContainerProperties) == 0 {
		if len(in.EcsProperties) > 0 || len(in.EksProperties) > 0 {
			return nil, clientErr("only containerProperties job definitions are supported by the local engine")
		}
		return nil, clientErr("containerProperties is required for a container job definition")
	}
	var props containerProps
	if err := json.Unmarshal(in.ContainerProperties, &props); err != nil {
		return nil, clientErr("containerProperties: %v", err)
	}
	if err := checkEnv(props.Environment, "containerProperties"); err != nil {
		return nil, err
	}
	if err := checkCommand(props.Command, "containerProperties"); err != nil {
		return nil, err
	}
	if _, err := mergeResources(props, nil); err != nil {
		return nil, err
	}
	if err := checkRetry(in.RetryStrategy); err != nil {
		return nil, err
	}
	if err := e.checkTimeout(in.Timeout); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags, "tags"); err != nil {
		return nil, err
	}
	e.lock()
	defer e.unlock()
	revs := e.defs[in.JobDefinitionName]
	rev := int32(len(revs) + 1)
	d := &jobDefinition{
		JobDefinitionName:   in.JobDefinitionName,
		JobDefinitionArn:    defArn(in.JobDefinitionName, rev),
		Revision:            rev,
		Status:              "ACTIVE",
		Type:                in.Type,
		Parameters:          in.Parameters,
		ContainerProperties: in.ContainerProperties,
		RetryStrategy:       in.RetryStrategy,
		Timeout:             in.Timeout,
		Tags:                in.Tags,
		PropagateTags:       in.PropagateTags,
		PlatformCaps:        in.PlatformCaps,
		SchedulingPriority:  in.SchedulingPriority,
		ContainerOrchType:   "ECS",
		props:               props,
	}
	e.defs[in.JobDefinitionName] = append(revs, d)
	if err := e.saveDefs(); err != nil {
		e.defs[in.JobDefinitionName] = revs
		return nil, fmt.Errorf("save job definitions: %w", err)
	}
	return &registerJobDefinitionOutput{JobDefinitionName: d.JobDefinitionName, JobDefinitionArn: d.JobDefinitionArn, Revision: rev}, nil
}

// findDef resolves name, name:revision or an ARN (under the lock). Without a
// revision it is the latest ACTIVE one.
func (e *Engine) findDef(ref string) *jobDefinition {
	if i := strings.LastIndex(ref, ":job-definition/"); i >= 0 && strings.HasPrefix(ref, "arn:") {
		ref = ref[i+len(":job-definition/"):]
	}
	name, revStr, hasRev := strings.Cut(ref, ":")
	revs := e.defs[name]
	if hasRev {
		rev, err := strconv.Atoi(revStr)
		if err != nil || rev < 1 || rev > len(revs) {
			return nil
		}
		return revs[rev-1]
	}
	for i := len(revs) - 1; i >= 0; i-- {
		if revs[i].Status == "ACTIVE" {
			return revs[i]
		}
	}
	return nil
}

func (e *Engine) deregisterJobDefinition(in *deregisterJobDefinitionInput) error {
	e.lock()
	defer e.unlock()
	d := e.findDef(in.JobDefinition)
	if d == nil {
		return clientErr("job definition %s does not exist", in.JobDefinition)
	}
	d.Status = "INACTIVE"
	if err := e.saveDefs(); err != nil {
		return fmt.Errorf("save job definitions: %w", err)
	}
	return nil
}

func (e *Engine) queueMatches(q string) bool {
	return q == e.cfg.QueueName || q == e.queueArn()
}

// substitute replaces Ref::name placeholders in every argument; unknown
// names stay as written, as in AWS.
func substitute(cmd []string, params map[string]string) []string {
	out := make([]string, len(cmd))
	for i, c := range cmd {
		out[i] = paramRefRE.ReplaceAllStringFunc(c, func(m string) string {
			if v, ok := params[m[len("Ref::"):]]; ok {
				return v
			}
			return m
		})
	}
	return out
}

func mergeEnv(base, over []keyValue) []keyValue {
	out := make([]keyValue, 0, len(base)+len(over))
	idx := map[string]int{}
	for _, kv := range append(append([]keyValue(nil), base...), over...) {
		if i, ok := idx[kv.Name]; ok {
			out[i] = kv
			continue
		}
		idx[kv.Name] = len(out)
		out = append(out, kv)
	}
	return out
}

// submitJob handles SubmitJob.
func (e *Engine) submitJob(in *submitJobInput, payload int) (*submitJobOutput, error) {
	if payload > maxSubmitPayload {
		return nil, clientErr("Job size must be less than 30 KiB, got %d KiB", (payload+1023)/1024)
	}
	if !jobNameRE.MatchString(in.JobName) {
		return nil, clientErr("jobName must be 1-128 characters, start with a letter or number and contain only letters, numbers, hyphens and underscores, got %q", in.JobName)
	}
	if !e.queueMatches(in.JobQueue) {
		return nil, clientErr("job queue %q does not exist", in.JobQueue)
	}
	if in.ShareIdentifier != "" {
		return nil, clientErr("shareIdentifier can only be given for a job queue with a fair-share scheduling policy")
	}
	if len(in.NodeOverrides) > 0 || len(in.EksOverride) > 0 || len(in.EcsOverride) > 0 {
		return nil, clientErr("only containerOverrides are supported by the local engine")
	}
	var size int32
	if in.ArrayProperties != nil && in.ArrayProperties.Size != nil {
		size = *in.ArrayProperties.Size
		if size < minArraySize || size > maxArraySize {
			return nil, clientErr("array size must be between %d and %d, got %d", minArraySize, maxArraySize, size)
		}
	}
	if len(in.DependsOn) > maxDependencies {
		return nil, clientErr("Job cannot have more than %d dependencies", maxDependencies)
	}
	ov := in.ContainerOverrides
	if ov != nil {
		if err := checkEnv(ov.Environment, "containerOverrides"); err != nil {
			return nil, err
		}
		if err := checkCommand(ov.Command, "containerOverrides"); err != nil {
			return nil, err
		}
	}
	if err := checkRetry(in.RetryStrategy); err != nil {
		return nil, err
	}
	if err := e.checkTimeout(in.Timeout); err != nil {
		return nil, err
	}
	if in.SchedulingPriority != nil {
		return nil, clientErr("schedulingPriorityOverride can only be given for a job queue with a fair-share scheduling policy")
	}
	if err := checkTags(in.Tags, "tags"); err != nil {
		return nil, err
	}

	e.lock()
	defer e.unlock()
	if e.closing {
		return nil, serverErr("the engine is shutting down")
	}
	def := e.findDef(in.JobDefinition)
	if def == nil {
		return nil, clientErr("job definition %s does not exist", in.JobDefinition)
	}
	res, err := mergeResources(def.props, ov)
	if err != nil {
		return nil, err
	}
	// Dependencies.
	for _, d := range in.DependsOn {
		switch d.Type {
		case depSequential:
			if d.JobID != "" {
				return nil, clientErr("a SEQUENTIAL dependency is given without jobId")
			}
			if size == 0 {
				return nil, clientErr("a SEQUENTIAL dependency is only valid on an array job")
			}
			continue
		case depNToN, "":
		default:
			return nil, clientErr("dependsOn type must be N_TO_N or SEQUENTIAL, got %q", d.Type)
		}
		if d.JobID == "" {
			return nil, clientErr("dependsOn: jobId is required")
		}
		t, ok := e.jobs[d.JobID]
		if !ok {
			return nil, clientErr("dependent job %s does not exist", d.JobID)
		}
		if d.Type == depNToN {
			if size == 0 {
				return nil, clientErr("an N_TO_N dependency is only valid on an array job")
			}
			if !t.isParent() || t.spec.ArraySize != size {
				return nil, clientErr("N_TO_N dependency %s must be an array job of the same size (%d)", d.JobID, size)
			}
		}
	}

	params := maps.Clone(def.Parameters)
	if params == nil {
		params = map[string]string{}
	}
	maps.Copy(params, in.Parameters)
	cmd := def.props.Command
	env := def.props.Environment
	if ov != nil {
		if len(ov.Command) > 0 {
			cmd = ov.Command
		}
		env = mergeEnv(env, ov.Environment)
	}
	retry := def.RetryStrategy
	if in.RetryStrategy != nil && in.RetryStrategy.Attempts != nil {
		retry = in.RetryStrategy
	}
	timeout := def.Timeout
	if in.Timeout != nil && in.Timeout.AttemptDurationSeconds != nil {
		timeout = in.Timeout
	}
	propagate := def.PropagateTags
	if in.PropagateTags != nil {
		propagate = in.PropagateTags
	}
	spec := &jobSpec{
		Name:                 in.JobName,
		Queue:                e.cfg.QueueName,
		DefArn:               def.JobDefinitionArn,
		DefName:              def.JobDefinitionName,
		Container:            def.ContainerProperties,
		Command:              substitute(cmd, params),
		Environment:          env,
		ResourceRequirements: res.reqs,
		Parameters:           params,
		DependsOn:            in.DependsOn,
		RetryStrategy:        retry,
		Timeout:              timeout,
		Tags:                 in.Tags, // the definition's tags stay on the definition
		PropagateTags:        propagate,
		PlatformCaps:         def.PlatformCaps,
		SchedulingPriority:   def.SchedulingPriority,
		ArraySize:            size,
		CPUMilli:             res.cpuMilli,
		MemMiB:               res.memMiB,
		GPUs:                 res.gpus,
	}
	if ov != nil {
		if b, err := json.Marshal(ov); err == nil && len(b) > maxOverridesLength {
			spec.OverridesTooLong = true
		}
	}
	j := &job{
		rec: jobRecord{
			ID:        newID(),
			Status:    engine.StatusSubmitted,
			CreatedAt: e.nowMS(),
			Spec:      spec,
		},
		spec:  spec,
		index: -1,
	}
	e.addTop(j)
	e.link(j)
	e.persist(j)
	if j.isParent() {
		e.todo = append(e.todo, j)
		e.todo = append(e.todo, j.children...)
	} else {
		e.todo = append(e.todo, j)
	}
	e.poke()
	e.log.Debug("submitted", "job", j.rec.ID, "name", in.JobName, "size", size)
	return &submitJobOutput{JobArn: jobArn(j.rec.ID), JobName: in.JobName, JobID: j.rec.ID}, nil
}
