package local

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
)

// TestJournalCompaction compacts the journal after every scheduling pass
// while an array runs, then reopens the directory: nothing is lost and the
// compacted journal holds one line per changed job.
func TestJournalCompaction(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, VCPUs: 4, MemoryMiB: 1024}
	eng, ep, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng.lock()
	eng.jlimit = 1
	eng.unlock()
	c := BatchClient(ep, eng.Credentials())
	ctx := t.Context()
	if _, err := c.RegisterJobDefinition(ctx, &batch.RegisterJobDefinitionInput{
		JobDefinitionName: aws.String("true"), Type: types.JobDefinitionTypeContainer,
		ContainerProperties: &types.ContainerProperties{Image: aws.String("x"), Command: []string{"true"}},
	}); err != nil {
		t.Fatal(err)
	}
	out, err := c.SubmitJob(ctx, &batch.SubmitJobInput{JobName: aws.String("a"), JobQueue: aws.String("feedbatch"),
		JobDefinition: aws.String("true"), ArrayProperties: &types.ArrayProperties{Size: aws.Int32(20)}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := c.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{*out.JobId}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Jobs[0].Status == types.JobStatusSucceeded {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(matches) != 0 {
		t.Errorf("leftover temporary files: %v", matches)
	}
	eng2, ep2, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng2.Close()
	d, err := BatchClient(ep2, eng2.Credentials()).DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{*out.JobId, *out.JobId + ":19"}})
	if err != nil || len(d.Jobs) != 2 || d.Jobs[0].ArrayProperties.StatusSummary["SUCCEEDED"] != 20 || d.Jobs[1].Status != types.JobStatusSucceeded {
		t.Fatalf("after reopen: %+v, %v", d, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, journalName))
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, c := range b {
		if c == '\n' {
			lines++
		}
	}
	if lines != 21 {
		t.Errorf("compacted journal has %d lines, want 21 (parent + 20 children)", lines)
	}
}
