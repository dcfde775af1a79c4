package enginetest

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/google/go-cmp/cmp"
)

// numTags returns n tags named prefix0, prefix1, ...
func numTags(prefix string, n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("%s%d", prefix, i)] = "v"
	}
	return m
}

// testLimits: the documented size limits of job definitions (24 KiB) and
// of tags (50 per resource, keys of 128 and values of 256 characters), at
// and past the limit (reference: aws-batch.md 3.7 and 5; User Guide "Tag
// restrictions").
func testLimits(t *testing.T, s *suite) {
	ok := s.def(t, "true")
	bulk := func(n int) []types.KeyValuePair {
		return []types.KeyValuePair{{Name: aws.String("BULK"), Value: aws.String(strings.Repeat("x", n))}}
	}
	t.Run("register/definition over 24 KiB", func(t *testing.T) {
		in := s.defInput(t, "true")
		in.ContainerProperties.Environment = bulk(25 << 10)
		_, err := s.h.Client.RegisterJobDefinition(t.Context(), in)
		if !isClientException(err) {
			t.Fatalf("RegisterJobDefinition: err = %v, want a ClientException", err)
		}
	})
	t.Run("register/definition of 20 KiB", func(t *testing.T) {
		in := s.defInput(t, "true")
		in.ContainerProperties.Environment = bulk(20 << 10)
		if _, err := s.h.Client.RegisterJobDefinition(t.Context(), in); err != nil {
			t.Fatalf("RegisterJobDefinition: %v", err)
		}
	})
	long := func(n int) string { return strings.Repeat("k", n) }
	bad := []struct {
		name string
		tags map[string]string
	}{
		{"51 tags", numTags("t", 51)},
		{"tag key of 129 characters", map[string]string{long(129): "v"}},
		{"tag value of 257 characters", map[string]string{"k": long(257)}},
		{"empty tag key", map[string]string{"": "v"}},
	}
	for _, tc := range bad {
		t.Run("submit/"+tc.name, func(t *testing.T) {
			in := s.in(t, ok)
			in.Tags = tc.tags
			_, err := s.h.Client.SubmitJob(t.Context(), in)
			if !isClientException(err) {
				t.Fatalf("SubmitJob: err = %v, want a ClientException", err)
			}
		})
		t.Run("register/"+tc.name, func(t *testing.T) {
			in := s.defInput(t, "true")
			in.Tags = tc.tags
			_, err := s.h.Client.RegisterJobDefinition(t.Context(), in)
			if !isClientException(err) {
				t.Fatalf("RegisterJobDefinition: err = %v, want a ClientException", err)
			}
		})
	}
	t.Run("accepted tag limits", func(t *testing.T) {
		tags := numTags("t", 48)
		tags[long(128)] = "v"
		tags["wide"] = strings.Repeat("é", 256) // characters, not bytes
		in := s.in(t, ok)
		in.Tags = tags
		id := s.submit(t, in)
		if got := s.one(t, id).Tags; !maps.Equal(got, tags) {
			t.Errorf("DescribeJobs tags: %d tags, want the %d submitted", len(got), len(tags))
		}
		s.wait(t, id)
	})
}

// testPropagateTags: with propagateTags, a job whose own and job
// definition's tags exceed 50 together goes to FAILED; at 50 it runs
// (SubmitJobRequest.propagateTags).
func testPropagateTags(t *testing.T, s *suite) {
	def := s.def(t, "true", func(in *batch.RegisterJobDefinitionInput) {
		in.Tags = numTags("def", 30)
		in.PropagateTags = aws.Bool(true)
	})
	over := s.in(t, def)
	over.Tags = numTags("job", 21)
	tooMany := s.submit(t, over)
	at := s.in(t, def)
	at.Tags = numTags("job", 20)
	fifty := s.submit(t, at)
	wantStatus(t, s.wait(t, tooMany), types.JobStatusFailed, "")
	wantStatus(t, s.wait(t, fifty), types.JobStatusSucceeded, "")
	if j := s.one(t, tooMany); len(j.Attempts) != 0 {
		t.Errorf("job with 51 propagated tags: %d attempts, want none (it never gets a task)", len(j.Attempts))
	}
	// Without propagation the same tags are fine.
	plain := s.in(t, def)
	plain.Tags = numTags("job", 21)
	plain.PropagateTags = aws.Bool(false)
	wantStatus(t, s.wait(t, s.submit(t, plain)), types.JobStatusSucceeded, "")
}

// testTagResource: TagResource, UntagResource and ListTagsForResource on a
// job and on a job definition; array children have no taggable ARN
// (API_TagResource).
func testTagResource(t *testing.T, s *suite) {
	c := s.h.Client
	list := func(t *testing.T, arn string) map[string]string {
		t.Helper()
		out, err := c.ListTagsForResource(t.Context(), &batch.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("ListTagsForResource(%s): %v", arn, err)
		}
		return out.Tags
	}
	check := func(t *testing.T, arn string) {
		t.Helper()
		if _, err := c.TagResource(t.Context(), &batch.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"b": "2", "c": "3"}}); err != nil {
			t.Fatalf("TagResource: %v", err)
		}
		if diff := cmp.Diff(map[string]string{"a": "1", "b": "2", "c": "3"}, list(t, arn)); diff != "" {
			t.Errorf("after TagResource (-want +got):\n%s", diff)
		}
		if _, err := c.UntagResource(t.Context(), &batch.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"a", "c"}}); err != nil {
			t.Fatalf("UntagResource: %v", err)
		}
		if diff := cmp.Diff(map[string]string{"b": "2"}, list(t, arn)); diff != "" {
			t.Errorf("after UntagResource (-want +got):\n%s", diff)
		}
		_, err := c.TagResource(t.Context(), &batch.TagResourceInput{ResourceArn: aws.String(arn), Tags: numTags("t", 50)})
		if !isClientException(err) {
			t.Errorf("TagResource past 50 tags: err = %v, want a ClientException", err)
		}
	}
	t.Run("job definition", func(t *testing.T) {
		in := s.defInput(t, "true")
		in.Tags = map[string]string{"a": "1"}
		out, err := c.RegisterJobDefinition(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		check(t, aws.ToString(out.JobDefinitionArn))
	})
	t.Run("job", func(t *testing.T) {
		in := s.in(t, s.def(t, "true"))
		in.Tags = map[string]string{"a": "1"}
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
		out, err := c.SubmitJob(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		arn := aws.ToString(out.JobArn)
		check(t, arn)
		if got := s.one(t, aws.ToString(out.JobId)).Tags; !maps.Equal(got, map[string]string{"b": "2"}) {
			t.Errorf("DescribeJobs tags after tagging = %v, want b=2", got)
		}
		_, err = c.TagResource(t.Context(), &batch.TagResourceInput{ResourceArn: aws.String(arn + ":0"), Tags: map[string]string{"x": "1"}})
		if !isClientException(err) {
			t.Errorf("TagResource on an array child: err = %v, want a ClientException", err)
		}
		s.wait(t, aws.ToString(out.JobId))
	})
}
