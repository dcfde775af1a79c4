package local_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/feedbatch/feedbatch/engine/local"
)

func tagN(prefix string, n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("%s%d", prefix, i)] = "v"
	}
	return m
}

// TestTags pins the engine's tag choices (DIFFERENCES.md): a job's tags
// are the ones it was submitted or tagged with, its definition's stay on
// the definition; propagated tags are counted after merging (a key in both
// counts once) and an excess fails the job with reasonTooManyTags before it
// gets a task; aws: keys are refused; tags changed by TagResource survive a
// restart.
func TestTags(t *testing.T) {
	dir := t.TempDir()
	cfg := local.Config{Dir: dir, VCPUs: 4, MemoryMiB: 1024}
	c, eng := newTC(t, cfg)
	def := c.def("tagged", sh("true"), func(in *batch.RegisterJobDefinitionInput) {
		in.Tags = tagN("k", 30)
		in.PropagateTags = aws.Bool(true)
	})
	// 30 definition tags, 20 of them repeated by the job, plus 20 more: 50.
	overlap := tagN("k", 20)
	maps.Copy(overlap, tagN("job", 20))
	merged := c.submit(def, func(in *batch.SubmitJobInput) { in.Tags = overlap })
	j := c.wait(merged)
	if j.Status != types.JobStatusSucceeded {
		t.Errorf("50 distinct propagated keys: %s (%q), want SUCCEEDED", j.Status, aws.ToString(j.StatusReason))
	}
	if !maps.Equal(j.Tags, overlap) {
		t.Errorf("job tags: %d, want the %d submitted (the definition's stay on it)", len(j.Tags), len(overlap))
	}
	over := c.submit(def, func(in *batch.SubmitJobInput) { in.Tags = tagN("job", 21) })
	j = c.wait(over)
	want := "Tags could not be propagated: the job and its job definition have more than 50 tags together"
	if j.Status != types.JobStatusFailed || aws.ToString(j.StatusReason) != want || len(j.Attempts) != 0 {
		t.Errorf("51 propagated tags: %s %q with %d attempts, want FAILED %q and none", j.Status, aws.ToString(j.StatusReason), len(j.Attempts), want)
	}
	if _, err := c.trySubmit(def, func(in *batch.SubmitJobInput) { in.Tags = map[string]string{"AWS:x": "1"} }); err == nil {
		t.Error("an aws: tag key was accepted")
	}

	arn := "arn:aws:batch:us-east-1:000000000000:job/" + merged
	if _, err := c.c.TagResource(t.Context(), &batch.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"later": "yes"}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"arn:aws:batch:us-east-1:000000000000:job/nope", "arn:aws:batch:us-east-1:000000000000:job-definition/tagged", "tagged"} {
		if _, err := c.c.ListTagsForResource(t.Context(), &batch.ListTagsForResourceInput{ResourceArn: aws.String(bad)}); err == nil {
			t.Errorf("ListTagsForResource(%s): no error", bad)
		}
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	c2, _ := newTC(t, cfg)
	out, err := c2.c.ListTagsForResource(t.Context(), &batch.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil || out.Tags["later"] != "yes" || len(out.Tags) != 41 {
		t.Errorf("after a restart: %d tags (later=%q), %v; want 41 with later=yes", len(out.Tags), out.Tags["later"], err)
	}
}

// FuzzTagResource feeds arbitrary ARNs, methods and bodies to the tagging
// API: every answer is a success or a well-formed ClientException, never a
// crash or a 500.
func FuzzTagResource(f *testing.F) {
	job := "arn:aws:batch:us-east-1:000000000000:job/"
	def := "arn:aws:batch:us-east-1:000000000000:job-definition/d:1"
	for _, s := range []struct {
		method uint8
		arn    string
		body   string
	}{
		{0, def, ""}, {1, def, `{"tags":{"a":"1"}}`}, {2, def, "tagKeys=a&tagKeys=b"}, {1, def, `{"tags":{}}`},
		{1, def, `{"tags":{"aws:k":"v"}}`}, {1, job + "x:1", `{"tags":{"a":"1"}}`}, {0, "arn:aws:batch:x:job-definition/d", ""},
		{1, def, `{"tags":null}`}, {1, def, `[`}, {2, def, ""}, {0, "%zz", ""},
	} {
		f.Add(s.method, s.arn, s.body)
	}
	eng, err := local.Open(f.Context(), local.Config{Dir: f.TempDir(), VCPUs: 1, MemoryMiB: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { eng.Close() })
	h := eng.APIHandler()
	rec := newRecorder()
	h.ServeHTTP(rec, mustRequest("/v1/registerjobdefinition", `{"jobDefinitionName":"d","type":"container","containerProperties":{"image":"x","command":["true"]}}`))
	if rec.code != 200 {
		f.Fatalf("register: %d %s", rec.code, rec.body.String())
	}
	f.Fuzz(func(t *testing.T, method uint8, arn, body string) {
		u := "http://local/v1/tags/" + url.PathEscape(arn)
		var req *http.Request
		var err error
		switch method % 3 {
		case 0:
			req, err = http.NewRequest("GET", u, nil)
		case 1:
			req, err = http.NewRequest("POST", u, strings.NewReader(body))
		default:
			req, err = http.NewRequest("DELETE", u+"?"+body, nil)
		}
		if err != nil {
			return
		}
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		switch rec.code {
		case 200, 404, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			// 404: a path the mux does not route; 307/308: net/http's
			// redirect of a path with "." or ".." segments (no job or job
			// definition ARN has them).
		case 400:
			var m map[string]string
			if err := json.Unmarshal(rec.body.Bytes(), &m); err != nil || m["__type"] != "ClientException" || m["message"] == "" {
				t.Errorf("400 body %q", rec.body.String())
			}
		default:
			t.Errorf("status %d: %s", rec.code, rec.body.String())
		}
	})
}
