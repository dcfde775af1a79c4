package local

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/feedbatch/feedbatch/engine"
)

// apiError is an error the API returns to the client: a ClientException
// (400) for bad requests, a ServerException (500) otherwise.
type apiError struct {
	status int
	typ    string
	msg    string
}

func (e *apiError) Error() string { return e.typ + ": " + e.msg }

func clientErr(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, typ: "ClientException", msg: fmt.Sprintf(format, args...)}
}

func serverErr(format string, args ...any) error {
	return &apiError{status: http.StatusInternalServerError, typ: "ServerException", msg: fmt.Sprintf(format, args...)}
}

const maxRequestBody = 1 << 20

// Handler returns the HTTP handler of the Batch REST-JSON API (POST
// /v1/<operation>) and of CloudWatch Logs GetLogEvents (JSON 1.1, POST /
// with X-Amz-Target: Logs_20140328.GetLogEvents).
func (e *Engine) Handler() http.Handler {
	api := e.api()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every AWS answer carries a request id; SDK errors quote it.
		w.Header().Set("X-Amzn-Requestid", newID())
		if err := checkOrigin(r, e.cfg.AllowRemote); err != nil {
			writeError(w, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err != nil {
			writeError(w, clientErr("request body too large or unreadable"))
			return
		}
		if err := verifySignature(r, body, e.creds, e.cfg.Clock.Now()); err != nil {
			writeError(w, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		api.ServeHTTP(w, r)
	})
}

// api serves the operations of an authenticated request.
func (e *Engine) api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/submitjob", e.mutating(handle(e, func(in *submitJobInput, n int) (any, error) { return e.submitJob(in, n) })))
	mux.HandleFunc("POST /v1/describejobs", handle(e, func(in *describeJobsInput, _ int) (any, error) { return e.describeJobs(in) }))
	mux.HandleFunc("POST /v1/listjobs", handle(e, func(in *listJobsInput, _ int) (any, error) { return e.listJobs(in) }))
	mux.HandleFunc("POST /v1/canceljob", e.mutating(handle(e, func(in *cancelJobInput, _ int) (any, error) { return e.stopJob(in, false) })))
	mux.HandleFunc("POST /v1/terminatejob", e.mutating(handle(e, func(in *cancelJobInput, _ int) (any, error) { return e.stopJob(in, true) })))
	mux.HandleFunc("POST /v1/registerjobdefinition", e.mutating(handle(e, func(in *registerJobDefinitionInput, n int) (any, error) {
		return e.registerJobDefinition(in, n)
	})))
	mux.HandleFunc("POST /v1/deregisterjobdefinition", e.mutating(handle(e, func(in *deregisterJobDefinitionInput, _ int) (any, error) {
		return struct{}{}, e.deregisterJobDefinition(in)
	})))
	mux.HandleFunc("POST /v1/describejobdefinitions", handle(e, func(in *describeJobDefinitionsInput, _ int) (any, error) {
		return e.describeJobDefinitions(in)
	}))
	mux.HandleFunc("POST /v1/describejobqueues", handle(e, func(in *describeJobQueuesInput, _ int) (any, error) {
		return e.describeJobQueues(in), nil
	}))
	mux.HandleFunc("POST /v1/describecomputeenvironments", handle(e, func(in *describeComputeEnvironmentsInput, _ int) (any, error) {
		return e.describeComputeEnvironments(in), nil
	}))
	mux.HandleFunc("POST /v1/tags/{arn...}", e.serveTags)
	mux.HandleFunc("GET /v1/tags/{arn...}", e.serveTags)
	mux.HandleFunc("DELETE /v1/tags/{arn...}", e.serveTags)
	mux.HandleFunc("POST /{$}", e.serveLogs)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{status: http.StatusNotFound, typ: "UnknownOperationException",
			msg: fmt.Sprintf("%s %s is not an operation of the local engine", r.Method, r.URL.Path)})
	})
	return mux // Handler sets the request id, on refusals too
}

// mutating refuses an operation that would change the engine's state when
// the engine is open read-only.
func (e *Engine) mutating(h http.HandlerFunc) http.HandlerFunc {
	if !e.cfg.ReadOnly {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		writeError(w, clientErr("the local engine is open read-only (an inspection command); start it with feedbatch run, status --wait or engine serve to change jobs"))
	}
}

// handle decodes a JSON request into In, calls fn and writes its result.
func handle[In any](e *Engine, fn func(*In, int) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err != nil {
			writeError(w, clientErr("request body: %v", err))
			return
		}
		in := new(In)
		if len(body) > 0 {
			if err := json.Unmarshal(body, in); err != nil {
				writeError(w, clientErr("malformed request: %v", err))
				return
			}
		}
		out, err := fn(in, len(body))
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				// The cause (with the engine's paths) goes to the engine's
				// log, not to the client.
				e.log.Error("request failed", "path", r.URL.Path, "err", err)
				err = serverErr("internal error of the local engine (see its log)")
			}
			writeError(w, err)
			return
		}
		writeJSON(w, "application/json", out)
	}
}

func writeJSON(w http.ResponseWriter, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, serverErr("encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

// writeError writes an error the way AWS REST-JSON services do: the type in
// the x-amzn-ErrorType header and as __type in the body, with a message.
func writeError(w http.ResponseWriter, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = &apiError{status: 500, typ: "ServerException", msg: err.Error()}
	}
	b, _ := json.Marshal(map[string]string{"__type": ae.typ, "message": ae.msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", ae.typ)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(ae.status)
	_, _ = w.Write(b)
}

func (e *Engine) describeJobs(in *describeJobsInput) (*describeJobsOutput, error) {
	if len(in.Jobs) > maxDescribeJobs {
		return nil, clientErr("Maximum number of jobs supported is %d", maxDescribeJobs)
	}
	e.lock()
	defer e.unlock()
	out := &describeJobsOutput{Jobs: []*jobDetail{}}
	for _, id := range in.Jobs {
		if i := strings.LastIndex(id, ":job/"); i >= 0 && strings.HasPrefix(id, "arn:") {
			id = id[i+len(":job/"):]
		}
		if j, ok := e.jobs[id]; ok {
			out.Jobs = append(out.Jobs, e.detail(j))
		}
	}
	return out, nil
}

func (e *Engine) stopJob(in *cancelJobInput, terminate bool) (any, error) {
	if in.JobID == "" {
		return nil, clientErr("jobId is required")
	}
	if in.Reason == "" {
		return nil, clientErr("reason is required")
	}
	if len(in.Reason) > maxReasonLength {
		return nil, clientErr("reason must be at most %d characters", maxReasonLength)
	}
	e.lock()
	defer e.unlock()
	id := in.JobID
	if i := strings.LastIndex(id, ":job/"); i >= 0 && strings.HasPrefix(id, "arn:") {
		id = id[i+len(":job/"):]
	}
	j, ok := e.jobs[id]
	if !ok {
		return nil, clientErr("job %s: %v", in.JobID, engine.ErrJobNotFound)
	}
	stop := e.cancel
	if terminate {
		stop = e.terminate
	}
	err := stop(j, in.Reason)
	e.poke()
	if err != nil {
		e.logBug(err)
		return nil, err
	}
	return struct{}{}, nil
}

// listToken is the opaque ListJobs nextToken: the position after which the
// next page starts.
type listToken struct {
	After int64 `json:"a"`
}

func encodeToken(after int64) *string {
	b, _ := json.Marshal(listToken{After: after})
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

func decodeToken(s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, clientErr("invalid nextToken")
	}
	var t listToken
	if err := json.Unmarshal(b, &t); err != nil {
		return 0, clientErr("invalid nextToken")
	}
	return t.After, nil
}

// listJobs handles ListJobs. Without filters, jobs come in submission order
// (children in index order); with a filter, newest first, as AWS documents.
func (e *Engine) listJobs(in *listJobsInput) (*listJobsOutput, error) {
	n := 0
	for _, s := range []string{in.JobQueue, in.ArrayJobID, in.MultiNodeJobID} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, clientErr("exactly one of jobQueue, arrayJobId and multiNodeJobId must be given")
	}
	if in.MultiNodeJobID != "" {
		return nil, clientErr("multi-node parallel jobs are not supported by the local engine")
	}
	status := engine.StatusRunning
	if in.JobStatus != "" {
		status = engine.Status(in.JobStatus)
		if !status.Valid() {
			return nil, clientErr("jobStatus must be one of %v, got %q", engine.Statuses, in.JobStatus)
		}
	}
	if len(in.Filters) > 1 {
		return nil, clientErr("only one filter can be given")
	}
	limit := 1000
	if len(in.Filters) == 1 {
		limit = 100
	}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 {
			return nil, clientErr("maxResults must be at least 1")
		}
		limit = min(limit, int(*in.MaxResults))
	}
	var after int64 = -1
	if in.NextToken != "" {
		a, err := decodeToken(in.NextToken)
		if err != nil {
			return nil, err
		}
		after = a
	}
	var match func(*job) (bool, error)
	if len(in.Filters) == 1 {
		f, err := e.filter(in.Filters[0])
		if err != nil {
			return nil, err
		}
		match = f
	} else {
		match = func(j *job) (bool, error) { return j.rec.Status == status, nil }
	}

	e.lock()
	defer e.unlock()
	// candidates with their position (pos grows along the listing order).
	type cand struct {
		j   *job
		pos int64
	}
	var cands []cand
	if in.ArrayJobID != "" {
		p, ok := e.jobs[in.ArrayJobID]
		if !ok || !p.isParent() {
			return &listJobsOutput{JobSummaryList: []jobSummary{}}, nil
		}
		for i, c := range p.children {
			cands = append(cands, cand{c, int64(i)})
		}
	} else {
		if !e.queueMatches(in.JobQueue) {
			return nil, clientErr("job queue %q does not exist", in.JobQueue)
		}
		if len(in.Filters) == 1 {
			for i := len(e.top) - 1; i >= 0; i-- {
				cands = append(cands, cand{e.top[i], int64(len(e.top) - 1 - i)})
			}
		} else {
			for _, j := range e.top {
				cands = append(cands, cand{j, j.seq})
			}
		}
	}
	out := &listJobsOutput{JobSummaryList: []jobSummary{}}
	for _, c := range cands {
		if c.pos <= after {
			continue
		}
		ok, err := match(c.j)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if len(out.JobSummaryList) == limit {
			out.NextToken = encodeToken(after)
			break
		}
		out.JobSummaryList = append(out.JobSummaryList, e.summary(c.j))
		after = c.pos
	}
	return out, nil
}

// filter builds a ListJobs filter predicate.
func (e *Engine) filter(f keyValuesPair) (func(*job) (bool, error), error) {
	if len(f.Values) != 1 {
		return nil, clientErr("filter %s takes exactly one value", f.Name)
	}
	v := f.Values[0]
	switch f.Name {
	case "JOB_NAME":
		v = strings.ToLower(v)
		return func(j *job) (bool, error) { return matchGlob(v, strings.ToLower(j.spec.Name)), nil }, nil
	case "JOB_DEFINITION":
		return func(j *job) (bool, error) {
			name := j.spec.DefName
			arn := j.spec.DefArn
			withRev := arn[strings.LastIndex(arn, "/")+1:]
			return matchGlob(v, name) || matchGlob(v, withRev) || matchGlob(v, arn), nil
		}, nil
	case "BEFORE_CREATED_AT", "AFTER_CREATED_AT":
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, clientErr("filter %s needs a Unix time in milliseconds, got %q", f.Name, v)
		}
		before := f.Name == "BEFORE_CREATED_AT"
		return func(j *job) (bool, error) {
			if before {
				return j.rec.CreatedAt < ms, nil
			}
			return j.rec.CreatedAt > ms, nil
		}, nil
	case "SHARE_IDENTIFIER":
		return func(*job) (bool, error) { return false, nil }, nil
	}
	return nil, clientErr("filter name must be JOB_NAME, JOB_DEFINITION, BEFORE_CREATED_AT, AFTER_CREATED_AT or SHARE_IDENTIFIER, got %q", f.Name)
}

func (e *Engine) describeJobDefinitions(in *describeJobDefinitionsInput) (*describeJobDefinitionsOutput, error) {
	if len(in.JobDefinitions) > 100 {
		return nil, clientErr("at most 100 job definitions can be described at once")
	}
	e.lock()
	defer e.unlock()
	var all []*jobDefinition
	for _, name := range sortedKeys(e.defs) {
		all = append(all, e.defs[name]...)
	}
	var out []*jobDefinition
	for _, d := range all {
		if in.JobDefinitionName != "" && d.JobDefinitionName != in.JobDefinitionName {
			continue
		}
		if in.Status != "" && !strings.EqualFold(in.Status, d.Status) {
			continue
		}
		if len(in.JobDefinitions) > 0 && !slices.ContainsFunc(in.JobDefinitions, func(ref string) bool {
			return ref == d.JobDefinitionArn || ref == d.JobDefinitionName ||
				ref == d.JobDefinitionName+":"+strconv.Itoa(int(d.Revision))
		}) {
			continue
		}
		c := *d // a copy: TagResource may change d once the lock is released
		out = append(out, &c)
	}
	start := 0
	if in.NextToken != "" {
		a, err := decodeToken(in.NextToken)
		if err != nil {
			return nil, err
		}
		start = int(min(max(a, 0), int64(len(out))))
	}
	limit := 100
	if in.MaxResults != nil && *in.MaxResults > 0 {
		limit = min(int(*in.MaxResults), 1000)
	}
	res := &describeJobDefinitionsOutput{JobDefinitions: out[start:]}
	if len(res.JobDefinitions) > limit {
		res.JobDefinitions = res.JobDefinitions[:limit]
		res.NextToken = encodeToken(int64(start + limit))
	}
	if res.JobDefinitions == nil {
		res.JobDefinitions = []*jobDefinition{}
	}
	return res, nil
}

func (e *Engine) describeJobQueues(in *describeJobQueuesInput) *describeJobQueuesOutput {
	out := &describeJobQueuesOutput{JobQueues: []jobQueueDetail{}}
	if len(in.JobQueues) > 0 && !slices.ContainsFunc(in.JobQueues, e.queueMatches) {
		return out
	}
	out.JobQueues = append(out.JobQueues, jobQueueDetail{
		JobQueueName: e.cfg.QueueName,
		JobQueueArn:  e.queueArn(),
		State:        "ENABLED",
		Status:       "VALID",
		StatusReason: "JobQueue Healthy",
		Priority:     1,
		ComputeEnvironmentOrder: []computeEnvironmentOrder{
			{Order: 1, ComputeEnvironment: e.ceArn()},
		},
		JobQueueType: "ECS",
	})
	return out
}

func (e *Engine) describeComputeEnvironments(in *describeComputeEnvironmentsInput) *describeComputeEnvironmentsOutput {
	out := &describeComputeEnvironmentsOutput{ComputeEnvironments: []computeEnvironmentDetail{}}
	if len(in.ComputeEnvironments) > 0 && !slices.ContainsFunc(in.ComputeEnvironments, func(s string) bool {
		return s == e.cfg.CEName || s == e.ceArn()
	}) {
		return out
	}
	out.ComputeEnvironments = append(out.ComputeEnvironments, computeEnvironmentDetail{
		ComputeEnvironmentName: e.cfg.CEName,
		ComputeEnvironmentArn:  e.ceArn(),
		Type:                   "MANAGED",
		State:                  "ENABLED",
		Status:                 "VALID",
		StatusReason:           "ComputeEnvironment Healthy",
		ComputeResources: &computeResource{
			Type:          "EC2",
			MaxvCpus:      int32(e.cfg.VCPUs),
			InstanceTypes: []string{"local"},
			Subnets:       []string{},
		},
		ContainerOrchType: "ECS",
	})
	return out
}
