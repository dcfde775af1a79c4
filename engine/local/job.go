package local

import (
	"container/list"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/feedbatch/feedbatch/engine"
)

// jobRecord is what the journal keeps of a job: one JSON line per change,
// the last line of an id wins. Array children carry no spec (they share
// their parent's) and no name; a child without any record is PENDING since
// its parent's creation.
type jobRecord struct {
	ID           string          `json:"id"`
	Status       engine.Status   `json:"status"`
	StatusReason string          `json:"statusReason,omitempty"`
	CreatedAt    int64           `json:"createdAt,omitempty"`
	StartedAt    int64           `json:"startedAt,omitempty"`
	StoppedAt    int64           `json:"stoppedAt,omitempty"`
	Attempts     []attemptRecord `json:"attempts,omitempty"`
	IsCancelled  bool            `json:"isCancelled,omitempty"`
	IsTerminated bool            `json:"isTerminated,omitempty"`
	// CancelReason is set when CancelJob reached a job that still waits for
	// its dependencies; it is cancelled when they complete.
	CancelReason string `json:"cancelReason,omitempty"`
	// StopReason is set on an array parent by CancelJob or TerminateJob: it
	// becomes the parent's statusReason when it fails.
	StopReason string   `json:"stopReason,omitempty"`
	Spec       *jobSpec `json:"spec,omitempty"`
}

type attemptRecord struct {
	TaskID       string `json:"taskId"`
	LogStream    string `json:"logStream"`
	ExitCode     *int32 `json:"exitCode,omitempty"`
	Reason       string `json:"reason,omitempty"`
	StartedAt    int64  `json:"startedAt,omitempty"`
	StoppedAt    int64  `json:"stoppedAt,omitempty"`
	StatusReason string `json:"statusReason,omitempty"`
	// PID and PIDStart (the process's start time in clock ticks since boot,
	// /proc/<pid>/stat field 22) identify the attempt's process, so that an
	// engine opened after a crash can tell it from a reused pid.
	PID      int    `json:"pid,omitempty"`
	PIDStart uint64 `json:"pidStart,omitempty"`
}

// jobSpec is what SubmitJob fixed for a job, resolved against its job
// definition: the effective command, environment, resources, retry
// strategy and timeout.
type jobSpec struct {
	Name                 string                `json:"name"`
	Queue                string                `json:"queue"`
	DefArn               string                `json:"defArn"`
	DefName              string                `json:"defName"`
	Container            json.RawMessage       `json:"container,omitempty"` // the definition's containerProperties
	Command              []string              `json:"command,omitempty"`
	Environment          []keyValue            `json:"environment,omitempty"`
	ResourceRequirements []resourceRequirement `json:"resourceRequirements,omitempty"`
	Parameters           map[string]string     `json:"parameters,omitempty"`
	DependsOn            []jobDependency       `json:"dependsOn,omitempty"`
	RetryStrategy        *retryStrategy        `json:"retryStrategy,omitempty"`
	Timeout              *jobTimeout           `json:"timeout,omitempty"`
	Tags                 map[string]string     `json:"tags,omitempty"`
	PropagateTags        *bool                 `json:"propagateTags,omitempty"`
	PlatformCaps         []string              `json:"platformCapabilities,omitempty"`
	SchedulingPriority   *int32                `json:"schedulingPriority,omitempty"`
	ArraySize            int32                 `json:"arraySize,omitempty"`
	CPUMilli             int64                 `json:"cpuMilli"`
	MemMiB               int64                 `json:"memMiB"`
	GPUs                 int64                 `json:"gpus,omitempty"`
	// OverridesTooLong: containerOverrides rendered longer than ECS allows;
	// the job fails when it would become RUNNABLE (as in AWS).
	OverridesTooLong bool `json:"overridesTooLong,omitempty"`
}

func (s *jobSpec) attempts() int {
	if s.RetryStrategy != nil && s.RetryStrategy.Attempts != nil {
		return int(*s.RetryStrategy.Attempts)
	}
	return 1
}

func (s *jobSpec) sequential() bool {
	return slices.ContainsFunc(s.DependsOn, func(d jobDependency) bool { return d.Type == depSequential })
}

// job is a job in memory: a plain job, an array parent or an array child.
type job struct {
	rec    jobRecord
	spec   *jobSpec // the parent's for a child
	parent *job
	index  int32 // array index of a child, -1 otherwise

	children  []*job   // array parent
	counts    [7]int32 // array parent: children per status
	summaryAt int64    // array parent: statusSummaryLastUpdatedAt

	dependents []dependent   // jobs that named this job in dependsOn
	elem       *list.Element // in the runnable queue
	run        *running      // the attempt in progress
	seq        int64         // creation order among top-level jobs
}

type dependent struct {
	j   *job
	typ string
}

const (
	depNToN       = "N_TO_N"
	depSequential = "SEQUENTIAL"
)

func (j *job) isParent() bool { return j.spec.ArraySize > 0 && j.parent == nil }

// units are the jobs that run: the children of a parent, else the job.
func (j *job) units() []*job {
	if j.isParent() {
		return j.children
	}
	return []*job{j}
}

// implicit reports whether child c still is as its parent created it, so
// that the compacted journal can leave it out.
func (c *job) implicit(p *job) bool {
	return c.rec.Status == engine.StatusPending && len(c.rec.Attempts) == 0 &&
		c.rec.CancelReason == "" && c.rec.StatusReason == "" && c.rec.CreatedAt == p.rec.CreatedAt
}

func statusIndex(s engine.Status) int {
	switch s {
	case engine.StatusSubmitted:
		return 0
	case engine.StatusPending:
		return 1
	case engine.StatusRunnable:
		return 2
	case engine.StatusStarting:
		return 3
	case engine.StatusRunning:
		return 4
	case engine.StatusSucceeded:
		return 5
	}
	return 6
}

// addTop registers a top-level job and, for an array parent, creates its
// children in PENDING.
func (e *Engine) addTop(j *job) {
	e.seq++
	j.seq = e.seq
	e.jobs[j.rec.ID] = j
	e.top = append(e.top, j)
	if n := j.spec.ArraySize; n > 0 {
		j.children = make([]*job, n)
		for i := range n {
			c := &job{
				rec: jobRecord{
					ID:        j.rec.ID + ":" + strconv.Itoa(int(i)),
					Status:    engine.StatusPending,
					CreatedAt: j.rec.CreatedAt,
				},
				spec:   j.spec,
				parent: j,
				index:  i,
			}
			j.children[i] = c
			e.jobs[c.rec.ID] = c
		}
		j.counts[statusIndex(engine.StatusPending)] = n
		j.summaryAt = j.rec.CreatedAt
	}
}

// link registers j with the jobs it depends on, so that their completion
// re-evaluates it.
func (e *Engine) link(j *job) {
	for _, d := range j.spec.DependsOn {
		if d.JobID == "" {
			continue
		}
		if t, ok := e.jobs[d.JobID]; ok {
			t.dependents = append(t.dependents, dependent{j: j, typ: d.Type})
		}
	}
}

// ---- ARNs and describing ----

func jobArn(id string) string {
	return "arn:aws:batch:" + region + ":" + accountID + ":job/" + id
}

func (e *Engine) queueArn() string {
	return "arn:aws:batch:" + region + ":" + accountID + ":job-queue/" + e.cfg.QueueName
}

func (e *Engine) ceArn() string {
	return "arn:aws:batch:" + region + ":" + accountID + ":compute-environment/" + e.cfg.CEName
}

func defArn(name string, rev int32) string {
	return "arn:aws:batch:" + region + ":" + accountID + ":job-definition/" + name + ":" + strconv.Itoa(int(rev))
}

func taskArn(task string) string {
	return "arn:aws:ecs:" + region + ":" + accountID + ":task/local/" + task
}

// childDeps is what DescribeJobs shows as a child's dependsOn: the parent's
// plain dependencies, and the concrete sibling or peer child for N_TO_N and
// SEQUENTIAL.
func (j *job) dependsOn() []jobDependency {
	out := []jobDependency{}
	for _, d := range j.spec.DependsOn {
		switch {
		case j.parent == nil:
			out = append(out, d)
		case d.Type == depNToN:
			out = append(out, jobDependency{JobID: d.JobID + ":" + strconv.Itoa(int(j.index)), Type: depNToN})
		case d.Type == depSequential:
			if j.index > 0 {
				out = append(out, jobDependency{JobID: j.parent.rec.ID + ":" + strconv.Itoa(int(j.index-1)), Type: depSequential})
			}
		default:
			out = append(out, d)
		}
	}
	return out
}

func (p *job) statusSummary() map[string]int32 {
	m := make(map[string]int32, 7)
	for i, s := range engine.Statuses {
		m[string(s)] = p.counts[i]
	}
	return m
}

func (j *job) arrayProps() *arrayPropertiesDetail {
	switch {
	case j.parent != nil:
		i := j.index
		return &arrayPropertiesDetail{Index: &i}
	case j.isParent():
		n := j.spec.ArraySize
		return &arrayPropertiesDetail{Size: &n, StatusSummary: j.statusSummary(), StatusSummaryLastUpdatedAt: j.summaryAt}
	}
	return nil
}

func (j *job) lastAttempt() *attemptRecord {
	if n := len(j.rec.Attempts); n > 0 {
		return &j.rec.Attempts[n-1]
	}
	return nil
}

// detail renders DescribeJobs' JobDetail (under the lock).
func (e *Engine) detail(j *job) *jobDetail {
	s := j.spec
	d := &jobDetail{
		JobArn:               jobArn(j.rec.ID),
		JobName:              s.Name,
		JobID:                j.rec.ID,
		JobQueue:             e.queueArn(),
		Status:               string(j.rec.Status),
		SchedulingPriority:   s.SchedulingPriority,
		Attempts:             []attemptDetail{},
		StatusReason:         j.rec.StatusReason,
		CreatedAt:            j.rec.CreatedAt,
		RetryStrategy:        s.RetryStrategy,
		StartedAt:            j.rec.StartedAt,
		StoppedAt:            j.rec.StoppedAt,
		DependsOn:            j.dependsOn(),
		JobDefinition:        s.DefArn,
		Parameters:           s.Parameters,
		ArrayProperties:      j.arrayProps(),
		Timeout:              s.Timeout,
		PropagateTags:        s.PropagateTags,
		PlatformCapabilities: s.PlatformCaps,
		IsCancelled:          j.rec.IsCancelled,
		IsTerminated:         j.rec.IsTerminated,
	}
	if j.parent == nil {
		d.Tags = s.Tags // tags do not propagate to children
	}
	for _, a := range j.rec.Attempts {
		d.Attempts = append(d.Attempts, attemptDetail{
			Container: &attemptContainer{
				TaskArn:       taskArn(a.TaskID),
				ExitCode:      a.ExitCode,
				Reason:        a.Reason,
				LogStreamName: a.LogStream,
			},
			StartedAt:    a.StartedAt,
			StoppedAt:    a.StoppedAt,
			StatusReason: a.StatusReason,
		})
	}
	if j.isParent() {
		// A parent has no attempts and no container run of its own.
		d.Container = e.containerDetail(j, nil)
		return d
	}
	d.Container = e.containerDetail(j, j.lastAttempt())
	return d
}

// containerDetail merges the definition's containerProperties with the
// effective command, environment and resources and the last attempt.
func (e *Engine) containerDetail(j *job, a *attemptRecord) map[string]any {
	m := map[string]any{}
	if len(j.spec.Container) > 0 {
		_ = json.Unmarshal(j.spec.Container, &m)
	}
	m["command"] = j.spec.Command
	if m["command"] == nil || len(j.spec.Command) == 0 {
		m["command"] = []string{}
	}
	env := make([]keyValue, 0, len(j.spec.Environment))
	env = append(env, j.spec.Environment...)
	m["environment"] = env
	if len(j.spec.ResourceRequirements) > 0 {
		m["resourceRequirements"] = j.spec.ResourceRequirements
	}
	if a != nil {
		if a.ExitCode != nil {
			m["exitCode"] = *a.ExitCode
		}
		if a.Reason != "" {
			m["reason"] = a.Reason
		}
		m["logStreamName"] = a.LogStream
		m["taskArn"] = taskArn(a.TaskID)
	}
	return m
}

// summary renders ListJobs' JobSummary (under the lock).
func (e *Engine) summary(j *job) jobSummary {
	s := jobSummary{
		JobArn:          jobArn(j.rec.ID),
		JobID:           j.rec.ID,
		JobName:         j.spec.Name,
		CreatedAt:       j.rec.CreatedAt,
		StartedAt:       j.rec.StartedAt,
		StoppedAt:       j.rec.StoppedAt,
		Status:          string(j.rec.Status),
		StatusReason:    j.rec.StatusReason,
		ArrayProperties: j.arrayProps(),
		JobDefinition:   j.spec.DefArn,
	}
	if a := j.lastAttempt(); a != nil && (a.ExitCode != nil || a.Reason != "") {
		s.Container = &containerSummary{ExitCode: a.ExitCode, Reason: a.Reason}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// matchGlob matches s against an AWS pattern: exact, or a prefix when the
// pattern ends in '*'.
func matchGlob(pattern, s string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return pattern == s
}
