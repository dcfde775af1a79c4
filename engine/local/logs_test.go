package local_test

import (
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/feedbatch/feedbatch/engine/local"
)

// TestLogGroups pins where the streams of a custom awslogs-group live
// (Config.Dir/loggroups/<escaped group>/<stream>), that GetLogEvents finds
// them only in their group, and the stream prefix is made safe when it
// could not name a stream.
func TestLogGroups(t *testing.T) {
	c, eng := newTC(t, local.Config{VCPUs: 4, MemoryMiB: 1024})
	logs := local.LogsClient(c.ep, c.eng.Credentials())
	withLogs := func(group, prefix string) func(*batch.RegisterJobDefinitionInput) {
		return func(in *batch.RegisterJobDefinitionInput) {
			in.ContainerProperties.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverAwslogs,
				Options: map[string]string{"awslogs-group": group, "awslogs-stream-prefix": prefix}}
		}
	}
	get := func(group, stream string) ([]string, error) {
		out, err := logs.GetLogEvents(t.Context(), &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)})
		if err != nil {
			return nil, err
		}
		var msgs []string
		for _, e := range out.Events {
			msgs = append(msgs, aws.ToString(e.Message))
		}
		return msgs, nil
	}
	c.def("grouped", sh("echo in the group"), withLogs("/feedbatch/local", "feedbatch-collect"))
	j := c.wait(c.submit("grouped"))
	stream := aws.ToString(j.Attempts[0].Container.LogStreamName)
	if !strings.HasPrefix(stream, "feedbatch-collect/default/") {
		t.Errorf("stream %q, want feedbatch-collect/default/<task>", stream)
	}
	if got, err := get("/feedbatch/local", stream); err != nil || len(got) != 1 || got[0] != "in the group" {
		t.Errorf("GetLogEvents in the group: %q, %v", got, err)
	}
	if _, err := get(local.LogGroup, stream); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("the stream read from the default group: err = %v, want ResourceNotFoundException", err)
	}
	if _, err := get("/no/such/group", stream); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Errorf("unknown group: err = %v, want ResourceNotFoundException", err)
	}
	if b, err := os.ReadFile(eng.LogPath("/feedbatch/local", stream)); err != nil || string(b) != "in the group\n" {
		t.Errorf("LogPath file: %q, %v", b, err)
	}

	c.def("unsafe", sh("echo safe"), withLogs("/feedbatch/local", "../up:and*out"))
	j = c.wait(c.submit("unsafe"))
	stream = aws.ToString(j.Attempts[0].Container.LogStreamName)
	if !strings.HasPrefix(stream, "__up_and_out/default/") {
		t.Errorf("stream of an unsafe prefix %q, want __up_and_out/default/<task>", stream)
	}
	if got, err := get("/feedbatch/local", stream); err != nil || len(got) != 1 {
		t.Errorf("GetLogEvents of the made-safe stream: %q, %v", got, err)
	}
}
