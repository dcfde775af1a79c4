package local

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Tag limits of AWS Batch resources (reference: aws-batch.md 3.7; User
// Guide "Tag restrictions").
const (
	maxTags        = 50
	maxTagKeyLen   = 128 // characters
	maxTagValueLen = 256 // characters
)

// reasonTooManyTags is the statusReason of a job whose propagated tags (its
// own and its job definition's) exceed maxTags; AWS documents the FAILED
// status, not the reason's wording.
const reasonTooManyTags = "Tags could not be propagated: the job and its job definition have more than 50 tags together"

// checkTags validates a tag map of SubmitJob, RegisterJobDefinition or
// TagResource.
func checkTags(tags map[string]string, where string) error {
	if len(tags) > maxTags {
		return clientErr("%s: at most %d tags are allowed, got %d", where, maxTags, len(tags))
	}
	for k, v := range tags {
		if k == "" || utf8.RuneCountInString(k) > maxTagKeyLen {
			return clientErr("%s: tag key must be 1-%d characters, got %d: %.40q", where, maxTagKeyLen, utf8.RuneCountInString(k), k)
		}
		if utf8.RuneCountInString(v) > maxTagValueLen {
			return clientErr("%s: tag value of %.40q must be at most %d characters, got %d", where, k, maxTagValueLen, utf8.RuneCountInString(v))
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return clientErr("%s: tag keys starting with aws: are reserved for AWS use: %.40q", where, k)
		}
	}
	return nil
}

// propagatedTags is the number of tags j's task would carry with
// propagateTags: its top-level job's tags and its job definition's, a key in
// both counting once (under the lock).
func (e *Engine) propagatedTags(j *job) int {
	top := j
	if j.parent != nil {
		top = j.parent
	}
	n := len(top.spec.Tags)
	if d := e.findDef(j.spec.DefArn); d != nil {
		for k := range d.Tags {
			if _, ok := top.spec.Tags[k]; !ok {
				n++
			}
		}
	}
	return n
}

type tagsOutput struct {
	Tags map[string]string `json:"tags"`
}

// tagsOf returns the tag map of a resource ARN for reading or changing
// (under the lock), and save, which persists a change. Array children have
// no tags of their own and are refused, as in AWS.
func (e *Engine) tagsOf(arn string) (tags *map[string]string, save func() error, err error) {
	switch {
	case strings.HasPrefix(arn, "arn:") && strings.Contains(arn, ":job/"):
		id := arn[strings.LastIndex(arn, ":job/")+len(":job/"):]
		j, ok := e.jobs[id]
		if !ok {
			return nil, nil, clientErr("resource %s does not exist", arn)
		}
		if j.parent != nil {
			return nil, nil, clientErr("ARNs for child jobs of array and multi-node parallel jobs aren't supported: %s", arn)
		}
		return &j.spec.Tags, func() error { e.persist(j); return nil }, nil
	case strings.HasPrefix(arn, "arn:") && strings.Contains(arn, ":job-definition/"):
		ref := arn[strings.LastIndex(arn, ":job-definition/")+len(":job-definition/"):]
		if !strings.Contains(ref, ":") {
			return nil, nil, clientErr("a job definition ARN needs its revision: %s", arn)
		}
		d := e.findDef(ref)
		if d == nil {
			return nil, nil, clientErr("resource %s does not exist", arn)
		}
		return &d.Tags, e.saveDefs, nil
	}
	return nil, nil, clientErr("resourceArn must be the ARN of a job or of a job definition revision, got %q", arn)
}

// serveTags implements TagResource (POST), UntagResource (DELETE, keys in
// the tagKeys query parameter) and ListTagsForResource (GET) on
// /v1/tags/{resourceArn}.
func (e *Engine) serveTags(w http.ResponseWriter, r *http.Request) {
	arn := r.PathValue("arn")
	var add map[string]string
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
		if err != nil {
			writeError(w, clientErr("request body: %v", err))
			return
		}
		var in struct {
			Tags map[string]string `json:"tags"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			writeError(w, clientErr("malformed request: %v", err))
			return
		}
		if len(in.Tags) == 0 {
			writeError(w, clientErr("tags is required"))
			return
		}
		if err := checkTags(in.Tags, "tags"); err != nil {
			writeError(w, err)
			return
		}
		add = in.Tags
	}
	keys := r.URL.Query()["tagKeys"]
	if r.Method == http.MethodDelete && len(keys) == 0 {
		writeError(w, clientErr("tagKeys is required"))
		return
	}
	e.lock()
	defer e.unlock()
	tags, save, err := e.tagsOf(arn)
	if err != nil {
		writeError(w, err)
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, "application/json", tagsOutput{Tags: maps.Clone(*tags)})
		return
	case http.MethodPost:
		next := maps.Clone(*tags)
		if next == nil {
			next = map[string]string{}
		}
		maps.Copy(next, add)
		if err := checkTags(next, "tags"); err != nil {
			writeError(w, err)
			return
		}
		old := *tags
		*tags = next
		if err := save(); err != nil {
			*tags = old
			e.log.Error("tag resource", "arn", arn, "err", err)
			writeError(w, serverErr("save tags: %v", err))
			return
		}
	case http.MethodDelete:
		old := *tags
		next := maps.Clone(old)
		for _, k := range keys {
			delete(next, k)
		}
		*tags = next
		if err := save(); err != nil {
			*tags = old
			e.log.Error("untag resource", "arn", arn, "err", err)
			writeError(w, serverErr("save tags: %v", err))
			return
		}
	}
	writeJSON(w, "application/json", struct{}{})
}
