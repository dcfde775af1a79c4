package enginetest

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/google/go-cmp/cmp"
)

// testLogStreams: with the awslogs driver, a job definition's
// awslogs-stream-prefix names the streams "<prefix>/default/<task id>" and
// its awslogs-group holds them, readable with GetLogEvents
// (reference: aws-batch.md 3.8).
func testLogStreams(t *testing.T, s *suite) {
	if s.h.Logs == nil {
		t.Skip("the harness has no CloudWatch Logs client")
	}
	prefix := "et-" + s.tag + "-prefix"
	def := s.def(t, "echo hello from $AWS_BATCH_JOB_ATTEMPT", func(in *batch.RegisterJobDefinitionInput) {
		in.ContainerProperties.LogConfiguration = &types.LogConfiguration{
			LogDriver: types.LogDriverAwslogs,
			Options:   map[string]string{"awslogs-group": s.h.LogGroup, "awslogs-stream-prefix": prefix},
		}
	})
	j := s.wait(t, s.submit(t, s.in(t, def)))
	wantStatus(t, j, types.JobStatusSucceeded, "")
	if len(j.Attempts) != 1 || j.Attempts[0].Container == nil {
		t.Fatalf("%d attempts", len(j.Attempts))
	}
	stream := aws.ToString(j.Attempts[0].Container.LogStreamName)
	task := aws.ToString(j.Attempts[0].Container.TaskArn)
	task = task[strings.LastIndex(task, "/")+1:]
	if want := prefix + "/default/" + task; stream != want {
		t.Errorf("logStreamName = %q, want %q", stream, want)
	}
	// AWS delivers log events a little after the job ends.
	var got []string
	s.poll(t, "log events of "+stream, func() bool {
		out, err := s.h.Logs.GetLogEvents(t.Context(), &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(s.h.LogGroup), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true),
		})
		if err != nil {
			t.Logf("GetLogEvents: %v", err)
			return false
		}
		got = got[:0]
		for _, e := range out.Events {
			got = append(got, aws.ToString(e.Message))
		}
		return len(got) > 0
	})
	if diff := cmp.Diff([]string{"hello from 1"}, got); diff != "" {
		t.Errorf("log events (-want +got):\n%s", diff)
	}
}
