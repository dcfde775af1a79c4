package enginetest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/google/go-cmp/cmp"
)

// testValidation: requests AWS Batch rejects with a ClientException
// (checklist 1).
func testValidation(t *testing.T, s *suite) {
	ok := s.def(t, "true")
	okJob := s.submit(t, s.in(t, ok))
	tooMany := make([]types.JobDependency, 21)
	for i := range tooMany {
		tooMany[i] = types.JobDependency{JobId: aws.String(okJob)}
	}
	retry := func(n int32, ev ...types.EvaluateOnExit) *types.RetryStrategy {
		r := &types.RetryStrategy{EvaluateOnExit: ev}
		if n > 0 {
			r.Attempts = aws.Int32(n)
		}
		return r
	}
	exit := types.EvaluateOnExit{Action: types.RetryActionExit, OnExitCode: aws.String("1")}
	submits := []struct {
		name string
		mod  func(*batch.SubmitJobInput)
	}{
		{"array size 1", func(in *batch.SubmitJobInput) { in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(1)} }},
		{"array size 10001", func(in *batch.SubmitJobInput) { in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(10001)} }},
		{"21 dependencies", func(in *batch.SubmitJobInput) { in.DependsOn = tooMany }},
		{"AWS_BATCH env override", func(in *batch.SubmitJobInput) {
			in.ContainerOverrides = &types.ContainerOverrides{Environment: []types.KeyValuePair{{Name: aws.String("AWS_BATCH_JOB_ARRAY_INDEX"), Value: aws.String("3")}}}
		}},
		{"empty command string", func(in *batch.SubmitJobInput) {
			in.ContainerOverrides = &types.ContainerOverrides{Command: []string{"sh", ""}}
		}},
		{"timeout below minimum", func(in *batch.SubmitJobInput) {
			in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(s.h.MinTimeoutSeconds - 1)}
		}},
		{"attempts 0", func(in *batch.SubmitJobInput) { in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(0)} }},
		{"attempts 11", func(in *batch.SubmitJobInput) { in.RetryStrategy = retry(11) }},
		{"6 evaluateOnExit", func(in *batch.SubmitJobInput) {
			in.RetryStrategy = retry(2, exit, exit, exit, exit, exit, exit)
		}},
		{"evaluateOnExit without attempts", func(in *batch.SubmitJobInput) { in.RetryStrategy = retry(0, exit) }},
		{"job name starting with hyphen", func(in *batch.SubmitJobInput) { in.JobName = aws.String("-bad") }},
		{"job name with space", func(in *batch.SubmitJobInput) { in.JobName = aws.String("bad name") }},
		{"job name of 129 characters", func(in *batch.SubmitJobInput) { in.JobName = aws.String(strings.Repeat("a", 129)) }},
		{"unknown job definition", func(in *batch.SubmitJobInput) { in.JobDefinition = aws.String(s.name(t, "nosuchdef")) }},
	}
	for _, tc := range submits {
		t.Run("submit/"+tc.name, func(t *testing.T) {
			in := s.in(t, ok)
			tc.mod(in)
			_, err := s.h.Client.SubmitJob(t.Context(), in)
			if !isClientException(err) {
				t.Fatalf("SubmitJob: err = %v, want a ClientException", err)
			}
		})
	}
	registers := []struct {
		name string
		mod  func(*batch.RegisterJobDefinitionInput)
	}{
		{"AWS_BATCH env", func(in *batch.RegisterJobDefinitionInput) {
			in.ContainerProperties.Environment = []types.KeyValuePair{{Name: aws.String("AWS_BATCH_X"), Value: aws.String("1")}}
		}},
		{"timeout below minimum", func(in *batch.RegisterJobDefinitionInput) {
			in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(s.h.MinTimeoutSeconds - 1)}
		}},
		{"attempts 11", func(in *batch.RegisterJobDefinitionInput) { in.RetryStrategy = retry(11) }},
		{"6 evaluateOnExit", func(in *batch.RegisterJobDefinitionInput) {
			in.RetryStrategy = retry(2, exit, exit, exit, exit, exit, exit)
		}},
	}
	for _, tc := range registers {
		t.Run("register/"+tc.name, func(t *testing.T) {
			in := s.defInput(t, "true")
			tc.mod(in)
			_, err := s.h.Client.RegisterJobDefinition(t.Context(), in)
			if !isClientException(err) {
				t.Fatalf("RegisterJobDefinition: err = %v, want a ClientException", err)
			}
		})
	}
	t.Run("describe 101 jobs", func(t *testing.T) {
		ids := make([]string, 101)
		for i := range ids {
			ids[i] = okJob
		}
		_, err := s.h.Client.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: ids})
		if !isClientException(err) {
			t.Fatalf("DescribeJobs: err = %v, want a ClientException", err)
		}
	})
	t.Run("accepted limits", func(t *testing.T) {
		in := s.in(t, ok)
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
		in.DependsOn = tooMany[:20]
		in.RetryStrategy = retry(10, exit, exit, exit, exit, exit)
		in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(s.h.MinTimeoutSeconds)}
		in.JobName = aws.String("A" + strings.Repeat("b_-", 42) + "c") // 128 characters
		s.wait(t, s.submit(t, in))
	})
}

// envScript checks the variables AWS Batch sets, exiting with a distinct
// code for each mismatch.
const envScript = `
case "$AWS_BATCH_JOB_ID" in *:"$AWS_BATCH_JOB_ARRAY_INDEX") ;; *) exit 11;; esac
[ "$AWS_BATCH_JOB_ARRAY_SIZE" = 3 ] || exit 12
[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] || exit 13
[ "$AWS_BATCH_JQ_NAME" = "$WANT_QUEUE" ] || exit 14
[ -n "$AWS_BATCH_CE_NAME" ] || exit 15
[ "$FROM_DEF" = def ] || exit 16
[ "$FROM_OVERRIDE" = override ] || exit 17
[ "$SHARED" = override ] || exit 18
echo "child $AWS_BATCH_JOB_ARRAY_INDEX of $AWS_BATCH_JOB_ARRAY_SIZE"
`

// testArrayChildren: child ids, child environment, arrayProperties
// (checklist 2, 3).
func testArrayChildren(t *testing.T, s *suite) {
	def := s.def(t, envScript, func(in *batch.RegisterJobDefinitionInput) {
		in.ContainerProperties.Environment = []types.KeyValuePair{
			{Name: aws.String("FROM_DEF"), Value: aws.String("def")},
			{Name: aws.String("SHARED"), Value: aws.String("def")},
		}
	})
	queue := s.h.Queue
	if i := strings.LastIndex(queue, "/"); i >= 0 {
		queue = queue[i+1:]
	}
	in := s.in(t, def)
	in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(3)}
	in.ContainerOverrides = &types.ContainerOverrides{Environment: []types.KeyValuePair{
		{Name: aws.String("FROM_OVERRIDE"), Value: aws.String("override")},
		{Name: aws.String("SHARED"), Value: aws.String("override")},
		{Name: aws.String("WANT_QUEUE"), Value: aws.String(queue)},
	}}
	id := s.submit(t, in)
	p := s.wait(t, id)
	wantStatus(t, p, types.JobStatusSucceeded, "")
	if p.ArrayProperties == nil || aws.ToInt32(p.ArrayProperties.Size) != 3 {
		t.Fatalf("parent arrayProperties = %+v, want size 3", p.ArrayProperties)
	}
	if p.ArrayProperties.Index != nil {
		t.Errorf("parent arrayProperties.index = %d, want none", *p.ArrayProperties.Index)
	}
	want := map[string]int32{"SUBMITTED": 0, "PENDING": 0, "RUNNABLE": 0, "STARTING": 0, "RUNNING": 0, "SUCCEEDED": 3, "FAILED": 0}
	if diff := cmp.Diff(want, p.ArrayProperties.StatusSummary); diff != "" {
		t.Errorf("parent statusSummary (-want +got):\n%s", diff)
	}
	if ms(p.ArrayProperties.StatusSummaryLastUpdatedAt) < ms(p.CreatedAt) {
		t.Errorf("statusSummaryLastUpdatedAt %d before createdAt %d", ms(p.ArrayProperties.StatusSummaryLastUpdatedAt), ms(p.CreatedAt))
	}
	if len(p.Attempts) != 0 {
		t.Errorf("parent has %d attempts, want 0", len(p.Attempts))
	}
	kids := s.describe(t, children(id, 3)...)
	for i, cid := range children(id, 3) {
		c, ok := kids[cid]
		if !ok {
			t.Fatalf("child %s unknown", cid)
		}
		wantStatus(t, c, types.JobStatusSucceeded, ReasonEssentialExited)
		if c.ArrayProperties == nil || aws.ToInt32(c.ArrayProperties.Index) != int32(i) {
			t.Errorf("child %s arrayProperties = %+v, want index %d", cid, c.ArrayProperties, i)
		}
		if aws.ToString(c.JobName) != aws.ToString(in.JobName) {
			t.Errorf("child %s jobName %q, want the parent's %q", cid, aws.ToString(c.JobName), aws.ToString(in.JobName))
		}
		if diff := cmp.Diff([]int32{0}, exitCodes(c)); diff != "" {
			t.Errorf("child %s exit codes (-want +got):\n%s", cid, diff)
		}
		if ms(c.CreatedAt) < ms(p.CreatedAt) {
			t.Errorf("child %s createdAt %d before parent's %d", cid, ms(c.CreatedAt), ms(p.CreatedAt))
		}
		a := c.Attempts[0]
		if ms(a.StartedAt) == 0 || ms(a.StoppedAt) < ms(a.StartedAt) {
			t.Errorf("child %s attempt times %d..%d", cid, ms(a.StartedAt), ms(a.StoppedAt))
		}
		if aws.ToString(a.Container.LogStreamName) == "" || c.Container == nil || aws.ToString(c.Container.LogStreamName) == "" {
			t.Errorf("child %s has no logStreamName", cid)
		}
		if ms(c.StoppedAt) < ms(c.StartedAt) || ms(c.StartedAt) == 0 {
			t.Errorf("child %s times %d..%d", cid, ms(c.StartedAt), ms(c.StoppedAt))
		}
		if ms(p.StoppedAt) < ms(c.StoppedAt) {
			t.Errorf("parent stopped at %d before child %s at %d", ms(p.StoppedAt), cid, ms(c.StoppedAt))
		}
	}
}

// testParentStatus: the parent is PENDING while children run, never
// RUNNABLE or RUNNING, and FAILED only once every child is terminal
// (checklist 3).
func testParentStatus(t *testing.T, s *suite) {
	def := s.def(t, `if [ "$AWS_BATCH_JOB_ARRAY_INDEX" = 0 ]; then exit 3; fi; sleep 1`)
	in := s.in(t, def)
	in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
	id := s.submit(t, in)
	seen := map[types.JobStatus]bool{}
	p := s.waitFor(t, id, "terminal", func(j types.JobDetail) bool {
		seen[j.Status] = true
		if j.Status == types.JobStatusFailed || j.Status == types.JobStatusSucceeded {
			return true
		}
		// While not terminal, at least one child is not terminal.
		sum := j.ArrayProperties.StatusSummary
		if sum["SUCCEEDED"]+sum["FAILED"] == 2 {
			t.Errorf("parent %s while every child is terminal (%v)", j.Status, sum)
		}
		return false
	})
	wantStatus(t, p, types.JobStatusFailed, "")
	for _, st := range []types.JobStatus{types.JobStatusRunnable, types.JobStatusStarting, types.JobStatusRunning} {
		if seen[st] {
			t.Errorf("parent was %s", st)
		}
	}
	kids := s.describe(t, children(id, 2)...)
	wantStatus(t, kids[id+":0"], types.JobStatusFailed, ReasonEssentialExited)
	wantStatus(t, kids[id+":1"], types.JobStatusSucceeded, "")
	if c := kids[id+":0"]; c.Container == nil || aws.ToInt32(c.Container.ExitCode) != 3 {
		t.Errorf("child 0 container = %+v, want exitCode 3", c.Container)
	}
	if ms(p.StoppedAt) < ms(kids[id+":1"].StoppedAt) {
		t.Errorf("parent stopped at %d, before child 1 at %d", ms(p.StoppedAt), ms(kids[id+":1"].StoppedAt))
	}
	sum := p.ArrayProperties.StatusSummary
	if sum["FAILED"] != 1 || sum["SUCCEEDED"] != 1 {
		t.Errorf("statusSummary %v, want 1 FAILED and 1 SUCCEEDED", sum)
	}
}

// testParameters: Ref:: placeholders, job definition defaults, SubmitJob
// parameters and command overrides.
func testParameters(t *testing.T, s *suite) {
	def := s.def(t, "exit Ref::code", func(in *batch.RegisterJobDefinitionInput) {
		in.Parameters = map[string]string{"code": "3"}
	})
	dflt := s.submit(t, s.in(t, def))
	in := s.in(t, def)
	in.Parameters = map[string]string{"code": "0"}
	given := s.submit(t, in)
	in = s.in(t, def)
	in.ContainerOverrides = &types.ContainerOverrides{Command: []string{"sh", "-c", "exit 5"}}
	over := s.submit(t, in)
	if diff := cmp.Diff([]int32{3}, exitCodes(s.wait(t, dflt))); diff != "" {
		t.Errorf("default parameter: exit codes (-want +got):\n%s", diff)
	}
	wantStatus(t, s.wait(t, given), types.JobStatusSucceeded, "")
	j := s.wait(t, over)
	if diff := cmp.Diff([]int32{5}, exitCodes(j)); diff != "" {
		t.Errorf("command override: exit codes (-want +got):\n%s", diff)
	}
	wantStatus(t, j, types.JobStatusFailed, ReasonEssentialExited)
}

// testNToN: child i of B waits for child i of A; a failed A:i fails B:i
// without running it (checklist 4).
func testNToN(t *testing.T, s *suite) {
	a := s.in(t, s.def(t, `sleep 0.$((3 - AWS_BATCH_JOB_ARRAY_INDEX)); [ "$AWS_BATCH_JOB_ARRAY_INDEX" != 1 ]`))
	a.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(3)}
	aID := s.submit(t, a)
	b := s.in(t, s.def(t, "true"))
	b.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(3)}
	b.DependsOn = []types.JobDependency{{JobId: aws.String(aID), Type: types.ArrayJobDependencyNToN}}
	bID := s.submit(t, b)
	c := s.in(t, s.def(t, "true"))
	c.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(3)}
	c.DependsOn = []types.JobDependency{{JobId: aws.String(bID), Type: types.ArrayJobDependencyNToN}}
	cID := s.submit(t, c)

	// Children are born PENDING (never SUBMITTED).
	for _, j := range s.describe(t, children(bID, 3)...) {
		if j.Status == types.JobStatusSubmitted {
			t.Errorf("child %s is SUBMITTED", *j.JobId)
		}
	}
	wantStatus(t, s.wait(t, cID), types.JobStatusFailed, "")
	wantStatus(t, s.wait(t, bID), types.JobStatusFailed, "")
	wantStatus(t, s.wait(t, aID), types.JobStatusFailed, "")
	all := s.describe(t, append(append(children(aID, 3), children(bID, 3)...), children(cID, 3)...)...)
	for i := range 3 {
		ai, bi, ci := all[fmt.Sprintf("%s:%d", aID, i)], all[fmt.Sprintf("%s:%d", bID, i)], all[fmt.Sprintf("%s:%d", cID, i)]
		if i == 1 {
			wantStatus(t, ai, types.JobStatusFailed, ReasonEssentialExited)
			for _, d := range []types.JobDetail{bi, ci} {
				wantStatus(t, d, types.JobStatusFailed, ReasonDependentFailed)
				if len(d.Attempts) != 0 {
					t.Errorf("%s ran %d attempts after its dependency failed", *d.JobId, len(d.Attempts))
				}
			}
			continue
		}
		for _, d := range []types.JobDetail{ai, bi, ci} {
			wantStatus(t, d, types.JobStatusSucceeded, "")
		}
		if ms(bi.StartedAt) < ms(ai.StoppedAt) {
			t.Errorf("B:%d started at %d before A:%d stopped at %d", i, ms(bi.StartedAt), i, ms(ai.StoppedAt))
		}
		if ms(ci.StartedAt) < ms(bi.StoppedAt) {
			t.Errorf("C:%d started at %d before B:%d stopped at %d", i, ms(ci.StartedAt), i, ms(bi.StoppedAt))
		}
	}
}

// testSequential: child i starts after child i-1 succeeded; a failed child
// fails the rest (checklist 4).
func testSequential(t *testing.T, s *suite) {
	seq := []types.JobDependency{{Type: types.ArrayJobDependencySequential}}
	in := s.in(t, s.def(t, "sleep 0.2"))
	in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(3)}
	in.DependsOn = seq
	okID := s.submit(t, in)
	in = s.in(t, s.def(t, `[ "$AWS_BATCH_JOB_ARRAY_INDEX" != 1 ]`))
	in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(3)}
	in.DependsOn = seq
	badID := s.submit(t, in)

	wantStatus(t, s.wait(t, okID), types.JobStatusSucceeded, "")
	kids := s.describe(t, children(okID, 3)...)
	for i := 1; i < 3; i++ {
		prev, cur := kids[fmt.Sprintf("%s:%d", okID, i-1)], kids[fmt.Sprintf("%s:%d", okID, i)]
		if ms(cur.StartedAt) < ms(prev.StoppedAt) {
			t.Errorf("child %d started at %d before child %d stopped at %d", i, ms(cur.StartedAt), i-1, ms(prev.StoppedAt))
		}
	}
	wantStatus(t, s.wait(t, badID), types.JobStatusFailed, "")
	kids = s.describe(t, children(badID, 3)...)
	wantStatus(t, kids[badID+":0"], types.JobStatusSucceeded, "")
	wantStatus(t, kids[badID+":1"], types.JobStatusFailed, ReasonEssentialExited)
	wantStatus(t, kids[badID+":2"], types.JobStatusFailed, ReasonDependentFailed)
	if n := len(kids[badID+":2"].Attempts); n != 0 {
		t.Errorf("child 2 ran %d attempts after child 1 failed", n)
	}
}

// testPlainDependency: a plain dependency on an array waits for the whole
// array; failure propagates along a chain of plain dependencies
// (checklist 4).
func testPlainDependency(t *testing.T, s *suite) {
	arr := s.in(t, s.def(t, "sleep 0.$((AWS_BATCH_JOB_ARRAY_INDEX * 3))"))
	arr.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
	arrID := s.submit(t, arr)
	after := s.in(t, s.def(t, "true"))
	after.DependsOn = []types.JobDependency{{JobId: aws.String(arrID)}}
	afterID := s.submit(t, after)

	bad := s.submit(t, s.in(t, s.def(t, "exit 1")))
	mid := s.in(t, s.def(t, "true"))
	mid.DependsOn = []types.JobDependency{{JobId: aws.String(bad)}}
	midID := s.submit(t, mid)
	last := s.in(t, s.def(t, "true"))
	last.DependsOn = []types.JobDependency{{JobId: aws.String(midID)}}
	last.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
	lastID := s.submit(t, last)

	j := s.wait(t, afterID)
	wantStatus(t, j, types.JobStatusSucceeded, "")
	p := s.one(t, arrID)
	if ms(j.StartedAt) < ms(p.StoppedAt) {
		t.Errorf("dependent started at %d before the array stopped at %d", ms(j.StartedAt), ms(p.StoppedAt))
	}
	if got := s.one(t, afterID).DependsOn; len(got) != 1 || aws.ToString(got[0].JobId) != arrID {
		t.Errorf("dependsOn = %+v, want the array job", got)
	}
	wantStatus(t, s.wait(t, midID), types.JobStatusFailed, ReasonDependentFailed)
	wantStatus(t, s.wait(t, lastID), types.JobStatusFailed, "")
	for _, c := range s.describe(t, children(lastID, 2)...) {
		wantStatus(t, c, types.JobStatusFailed, ReasonDependentFailed)
	}
}

// testRetry: attempts, AWS_BATCH_JOB_ATTEMPT, evaluateOnExit (checklist 5).
func testRetry(t *testing.T, s *suite) {
	ev := func(action types.RetryAction, code, reason, status string) types.EvaluateOnExit {
		e := types.EvaluateOnExit{Action: action}
		if code != "" {
			e.OnExitCode = aws.String(code)
		}
		if reason != "" {
			e.OnReason = aws.String(reason)
		}
		if status != "" {
			e.OnStatusReason = aws.String(status)
		}
		return e
	}
	const (
		retry = types.RetryActionRetry
		exit  = types.RetryActionExit
	)
	cases := []struct {
		name     string
		script   string
		attempts int32
		rules    []types.EvaluateOnExit
		want     []int32
		status   types.JobStatus
	}{
		{"attempts used up", "exit $((10 + AWS_BATCH_JOB_ATTEMPT))", 3, nil, []int32{11, 12, 13}, types.JobStatusFailed},
		{"succeeds on second attempt", `[ "$AWS_BATCH_JOB_ATTEMPT" -ge 2 ]`, 3, nil, []int32{1, 0}, types.JobStatusSucceeded},
		{"exit on exit code glob", "exit 42", 3, []types.EvaluateOnExit{ev(exit, "4*", "", "")}, []int32{42}, types.JobStatusFailed},
		{"no match retries", "exit 1", 2, []types.EvaluateOnExit{ev(exit, "9", "", "")}, []int32{1, 1}, types.JobStatusFailed},
		{"all conditions must match", "exit 1", 2, []types.EvaluateOnExit{ev(exit, "1", "NoSuchReason*", "")}, []int32{1, 1}, types.JobStatusFailed},
		{"first match wins: retry", "exit 1", 2, []types.EvaluateOnExit{ev(retry, "1", "", ""), ev(exit, "*", "", "")}, []int32{1, 1}, types.JobStatusFailed},
		{"first match wins: exit", "exit 1", 2, []types.EvaluateOnExit{ev(exit, "1", "", ""), ev(retry, "*", "", "")}, []int32{1}, types.JobStatusFailed},
		{"status reason glob", "exit 2", 3, []types.EvaluateOnExit{ev(retry, "", "", "Host EC2*"), ev(exit, "", "", "Essential container*")}, []int32{2}, types.JobStatusFailed},
		{"lower-case action", "exit 2", 3, []types.EvaluateOnExit{ev("exit", "2", "", "")}, []int32{2}, types.JobStatusFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := s.in(t, s.def(t, tc.script))
			in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(tc.attempts), EvaluateOnExit: tc.rules}
			j := s.wait(t, s.submit(t, in))
			wantStatus(t, j, tc.status, "")
			if diff := cmp.Diff(tc.want, exitCodes(j)); diff != "" {
				t.Errorf("attempt exit codes (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("job definition strategy, overridden by SubmitJob", func(t *testing.T) {
		t.Parallel()
		def := s.def(t, "exit 1", func(in *batch.RegisterJobDefinitionInput) {
			in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(2)}
		})
		fromDef := s.submit(t, s.in(t, def))
		in := s.in(t, def)
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(3)}
		fromSubmit := s.submit(t, in)
		if n := len(s.wait(t, fromDef).Attempts); n != 2 {
			t.Errorf("job definition attempts: ran %d, want 2", n)
		}
		if n := len(s.wait(t, fromSubmit).Attempts); n != 3 {
			t.Errorf("SubmitJob attempts: ran %d, want 3", n)
		}
	})
	t.Run("array children retry on their own", func(t *testing.T) {
		t.Parallel()
		in := s.in(t, s.def(t, `[ "$AWS_BATCH_JOB_ARRAY_INDEX" = 0 ] || [ "$AWS_BATCH_JOB_ATTEMPT" = 2 ]`))
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
		in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(2)}
		id := s.submit(t, in)
		wantStatus(t, s.wait(t, id), types.JobStatusSucceeded, "")
		kids := s.describe(t, children(id, 2)...)
		if diff := cmp.Diff([]int32{0}, exitCodes(kids[id+":0"])); diff != "" {
			t.Errorf("child 0 exit codes (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]int32{1, 0}, exitCodes(kids[id+":1"])); diff != "" {
			t.Errorf("child 1 exit codes (-want +got):\n%s", diff)
		}
	})
}

// testTimeout: a timed-out attempt fails the job and is never retried; the
// timeout applies to each array child (checklist 5).
func testTimeout(t *testing.T, s *suite) {
	in := s.in(t, s.def(t, "sleep 600"))
	in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(s.h.MinTimeoutSeconds)}
	in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(3)}
	in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
	id := s.submit(t, in)
	if s.h.Advance != nil {
		for _, c := range children(id, 2) {
			s.waitStatus(t, c, types.JobStatusRunning) // its timeout runs
		}
		s.h.Advance(time.Duration(s.h.MinTimeoutSeconds) * time.Second)
	}
	wantStatus(t, s.wait(t, id), types.JobStatusFailed, "")
	for _, c := range s.describe(t, children(id, 2)...) {
		wantStatus(t, c, types.JobStatusFailed, ReasonTimeout)
		if len(c.Attempts) != 1 {
			t.Errorf("%s: %d attempts, want 1 (timeouts are never retried)", *c.JobId, len(c.Attempts))
			continue
		}
		a := c.Attempts[0]
		if d := time.Duration(ms(a.StoppedAt)-ms(a.StartedAt)) * time.Millisecond; d < time.Duration(s.h.MinTimeoutSeconds)*time.Second {
			t.Errorf("%s stopped after %v, before its timeout", *c.JobId, d)
		}
	}
}

// WaitTrapped waits until a child that ignores SIGTERM has created marker
// right after setting its trap: RUNNING comes before the shell gets that
// far, and a SIGTERM before it would end the child at once.
func WaitTrapped(t *testing.T, marker string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(marker); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the child did not set its SIGTERM trap within 30s")
		}
	}
}

// testTimeoutKill: a process that ignores SIGTERM is killed after the
// grace.
func testTimeoutKill(t *testing.T, s *suite) {
	// The marker says the trap is set (a SIGTERM before it would end the
	// shell at once); only a harness with Advance, whose children run on
	// this machine, looks at it.
	marker := filepath.Join(t.TempDir(), "trapped")
	in := s.in(t, s.def(t, fmt.Sprintf(`trap "" TERM; touch '%s' 2>/dev/null; while :; do sleep 0.1; done`, marker)))
	in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(s.h.MinTimeoutSeconds)}
	id := s.submit(t, in)
	if s.h.Advance != nil {
		s.waitStatus(t, id, types.JobStatusRunning) // its timeout runs
		WaitTrapped(t, marker)
		s.h.Advance(time.Duration(s.h.MinTimeoutSeconds) * time.Second)
		// SIGTERM is ignored: still running until the grace is over.
		time.Sleep(10 * s.h.Poll)
		if j := s.one(t, id); j.Status != types.JobStatusRunning {
			t.Fatalf("within the grace: %s (%q), want RUNNING", j.Status, aws.ToString(j.StatusReason))
		}
		s.h.Advance(s.h.KillGrace)
	}
	j := s.wait(t, id)
	wantStatus(t, j, types.JobStatusFailed, ReasonTimeout)
	if len(j.Attempts) != 1 {
		t.Fatalf("%d attempts, want 1", len(j.Attempts))
	}
	a := j.Attempts[0]
	min := time.Duration(s.h.MinTimeoutSeconds)*time.Second + s.h.KillGrace - 500*time.Millisecond
	if d := time.Duration(ms(a.StoppedAt)-ms(a.StartedAt)) * time.Millisecond; d < min {
		t.Errorf("stopped after %v, want at least timeout+grace (%v)", d, min)
	}
}

// testCancel: CancelJob cancels waiting jobs (a PENDING one once its
// dependencies complete) and is a successful no-op on a RUNNING job
// (checklist 6).
func testCancel(t *testing.T, s *suite) {
	slow := s.submit(t, s.in(t, s.def(t, "sleep 2")))
	pend := s.in(t, s.def(t, "true"))
	pend.DependsOn = []types.JobDependency{{JobId: aws.String(slow)}}
	pend.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(3)}
	pendID := s.submit(t, pend)
	arr := s.in(t, s.def(t, "true"))
	arr.DependsOn = []types.JobDependency{{JobId: aws.String(slow)}}
	arr.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
	arrID := s.submit(t, arr)
	run := s.submit(t, s.in(t, s.def(t, "sleep 2")))

	s.waitStatus(t, pendID, types.JobStatusPending)
	for _, id := range []string{pendID, arrID} {
		if _, err := s.h.Client.CancelJob(t.Context(), &batch.CancelJobInput{JobId: aws.String(id), Reason: aws.String("cancelled by test")}); err != nil {
			t.Fatalf("CancelJob(%s): %v", id, err)
		}
	}
	s.waitStatus(t, run, types.JobStatusRunning)
	if _, err := s.h.Client.CancelJob(t.Context(), &batch.CancelJobInput{JobId: aws.String(run), Reason: aws.String("too late")}); err != nil {
		t.Fatalf("CancelJob on a RUNNING job: %v, want success", err)
	}
	j := s.wait(t, pendID)
	wantStatus(t, j, types.JobStatusFailed, "cancelled by test")
	if !aws.ToBool(j.IsCancelled) || len(j.Attempts) != 0 {
		t.Errorf("cancelled job: isCancelled %v, %d attempts; want true, 0", aws.ToBool(j.IsCancelled), len(j.Attempts))
	}
	if ms(j.StoppedAt) < ms(s.one(t, slow).StoppedAt) {
		t.Errorf("PENDING job cancelled at %d before its dependency completed", ms(j.StoppedAt))
	}
	wantStatus(t, s.wait(t, arrID), types.JobStatusFailed, "")
	for _, c := range s.describe(t, children(arrID, 2)...) {
		wantStatus(t, c, types.JobStatusFailed, "cancelled by test")
		if len(c.Attempts) != 0 {
			t.Errorf("%s ran after its parent was cancelled", *c.JobId)
		}
	}
	r := s.wait(t, run)
	wantStatus(t, r, types.JobStatusSucceeded, "")
	if aws.ToBool(r.IsCancelled) {
		t.Error("RUNNING job marked isCancelled")
	}
	if _, err := s.h.Client.CancelJob(t.Context(), &batch.CancelJobInput{JobId: aws.String(run), Reason: aws.String("done already")}); err != nil {
		t.Errorf("CancelJob on a finished job: %v, want success", err)
	}
}

// testTerminate: TerminateJob kills RUNNING jobs (never retried) and fails
// waiting ones at once; on a parent it terminates every child (checklist 6).
func testTerminate(t *testing.T, s *suite) {
	long := s.def(t, "sleep 600")
	in := s.in(t, long)
	in.RetryStrategy = &types.RetryStrategy{Attempts: aws.Int32(3)}
	runID := s.submit(t, in)
	pend := s.in(t, s.def(t, "true"))
	pend.DependsOn = []types.JobDependency{{JobId: aws.String(runID)}}
	pendID := s.submit(t, pend)
	arr := s.in(t, long)
	arr.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
	arrID := s.submit(t, arr)

	s.waitStatus(t, runID, types.JobStatusRunning)
	s.waitStatus(t, arrID+":0", types.JobStatusRunning)
	for _, id := range []string{pendID, runID, arrID} {
		if _, err := s.h.Client.TerminateJob(t.Context(), &batch.TerminateJobInput{JobId: aws.String(id), Reason: aws.String("terminated by test")}); err != nil {
			t.Fatalf("TerminateJob(%s): %v", id, err)
		}
	}
	j := s.wait(t, runID)
	wantStatus(t, j, types.JobStatusFailed, "terminated by test")
	if !aws.ToBool(j.IsTerminated) || len(j.Attempts) != 1 {
		t.Errorf("terminated job: isTerminated %v, %d attempts; want true, 1", aws.ToBool(j.IsTerminated), len(j.Attempts))
	}
	p := s.wait(t, pendID)
	wantStatus(t, p, types.JobStatusFailed, "terminated by test")
	if len(p.Attempts) != 0 {
		t.Errorf("terminated PENDING job ran %d attempts", len(p.Attempts))
	}
	wantStatus(t, s.wait(t, arrID), types.JobStatusFailed, "")
	for _, c := range s.describe(t, children(arrID, 2)...) {
		wantStatus(t, c, types.JobStatusFailed, "terminated by test")
	}
}

// testListJobs: no status lists RUNNING only; arrayJobId with status and
// paging; the JOB_NAME filter (checklist 7).
func testListJobs(t *testing.T, s *suite) {
	ctx := t.Context()
	runIn := s.in(t, s.def(t, "sleep 600"))
	runIn.JobName = aws.String(s.name(t, "running"))
	runID := s.submit(t, runIn)
	t.Cleanup(func() {
		_, _ = s.h.Client.TerminateJob(t.Context(), &batch.TerminateJobInput{JobId: aws.String(runID), Reason: aws.String("cleanup")})
	})
	doneIn := s.in(t, s.def(t, "true"))
	doneIn.JobName = aws.String(s.name(t, "done"))
	doneID := s.submit(t, doneIn)
	arr := s.in(t, s.def(t, "true"))
	arr.JobName = aws.String(s.name(t, "array"))
	arr.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(5)}
	arrID := s.submit(t, arr)
	s.waitStatus(t, runID, types.JobStatusRunning)
	s.wait(t, doneID)
	s.wait(t, arrID)

	listAll := func(in *batch.ListJobsInput) []types.JobSummary {
		t.Helper()
		var out []types.JobSummary
		pages := batch.NewListJobsPaginator(s.h.Client, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListJobs: %v", err)
			}
			out = append(out, page.JobSummaryList...)
		}
		return out
	}
	ids := func(l []types.JobSummary) []string {
		var out []string
		for _, j := range l {
			out = append(out, *j.JobId)
		}
		return out
	}

	t.Run("no status lists RUNNING only", func(t *testing.T) {
		got := listAll(&batch.ListJobsInput{JobQueue: aws.String(s.h.Queue)})
		for _, j := range got {
			if j.Status != types.JobStatusRunning {
				t.Errorf("job %s listed with status %s", *j.JobId, j.Status)
			}
		}
		if !slices.Contains(ids(got), runID) {
			t.Errorf("running job %s not listed", runID)
		}
	})
	t.Run("queue listing holds parents, not children", func(t *testing.T) {
		got := ids(listAll(&batch.ListJobsInput{JobQueue: aws.String(s.h.Queue), JobStatus: types.JobStatusSucceeded}))
		if !slices.Contains(got, arrID) || !slices.Contains(got, doneID) {
			t.Errorf("SUCCEEDED listing lacks the array %s or the job %s", arrID, doneID)
		}
		for _, id := range got {
			if strings.HasPrefix(id, arrID+":") {
				t.Errorf("queue listing holds child %s", id)
			}
		}
	})
	t.Run("array children paged", func(t *testing.T) {
		var pages int
		var got []types.JobSummary
		p := batch.NewListJobsPaginator(s.h.Client, &batch.ListJobsInput{
			ArrayJobId: aws.String(arrID), JobStatus: types.JobStatusSucceeded, MaxResults: aws.Int32(2),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListJobs: %v", err)
			}
			if len(page.JobSummaryList) > 2 {
				t.Errorf("page of %d, want at most 2", len(page.JobSummaryList))
			}
			pages++
			got = append(got, page.JobSummaryList...)
		}
		gotIDs := ids(got)
		slices.Sort(gotIDs)
		if diff := cmp.Diff(children(arrID, 5), gotIDs); diff != "" {
			t.Errorf("children listed (-want +got):\n%s", diff)
		}
		if pages < 3 {
			t.Errorf("%d pages of at most 2, want at least 3", pages)
		}
		for _, j := range got {
			if j.ArrayProperties == nil || j.ArrayProperties.Index == nil {
				t.Errorf("child summary %s has no arrayProperties.index", *j.JobId)
			}
		}
		if n := len(listAll(&batch.ListJobsInput{ArrayJobId: aws.String(arrID), JobStatus: types.JobStatusFailed})); n != 0 {
			t.Errorf("%d FAILED children listed, want 0", n)
		}
	})
	t.Run("JOB_NAME filter", func(t *testing.T) {
		prefix := strings.ToUpper(s.name(t, "")) // case-insensitive, trailing * is a prefix match
		in := s.in(t, s.def(t, "true"))
		in.JobName = aws.String(s.name(t, "x1"))
		a := s.submit(t, in)
		in.JobName = aws.String(s.name(t, "x2"))
		b := s.submit(t, in)
		in.JobName = aws.String(s.name(t, "x3"))
		in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
		c := s.submit(t, in)
		got := ids(listAll(&batch.ListJobsInput{
			JobQueue: aws.String(s.h.Queue),
			Filters:  []types.KeyValuesPair{{Name: aws.String("JOB_NAME"), Values: []string{prefix + "*"}}},
		}))
		slices.Sort(got)
		want := []string{a, b, c}
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("JOB_NAME listing (-want +got):\n%s", diff)
		}
	})
	t.Run("summary of a parent", func(t *testing.T) {
		for _, j := range listAll(&batch.ListJobsInput{JobQueue: aws.String(s.h.Queue), JobStatus: types.JobStatusSucceeded}) {
			if *j.JobId != arrID {
				continue
			}
			if j.ArrayProperties == nil || aws.ToInt32(j.ArrayProperties.Size) != 5 || j.ArrayProperties.StatusSummary["SUCCEEDED"] != 5 {
				t.Errorf("parent summary arrayProperties = %+v", j.ArrayProperties)
			}
			return
		}
		t.Error("parent not listed")
	})
}

// testDescribeJobs: unknown ids are omitted; child ids and ARNs are valid
// (checklist 7).
func testDescribeJobs(t *testing.T, s *suite) {
	in := s.in(t, s.def(t, "exit 3"))
	in.ArrayProperties = &types.ArrayProperties{Size: aws.Int32(2)}
	id := s.submit(t, in)
	s.wait(t, id)
	unknown := "00000000-0000-4000-8000-000000000000"
	got := s.describe(t, unknown, id, id+":1", id+":7")
	if len(got) != 2 {
		t.Errorf("DescribeJobs returned %d jobs, want 2 (unknown ids omitted)", len(got))
	}
	c, ok := got[id+":1"]
	if !ok {
		t.Fatal("child :1 not described")
	}
	wantStatus(t, c, types.JobStatusFailed, ReasonEssentialExited)
	if c.Container == nil || aws.ToInt32(c.Container.ExitCode) != 3 {
		t.Errorf("child container = %+v, want exitCode 3", c.Container)
	}
	if aws.ToString(c.JobDefinition) == "" || aws.ToString(c.JobQueue) == "" || aws.ToString(c.JobArn) == "" {
		t.Errorf("child lacks jobDefinition, jobQueue or jobArn: %+v", c)
	}
	empty, err := s.h.Client.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: []string{unknown}})
	if err != nil || len(empty.Jobs) != 0 {
		t.Errorf("DescribeJobs(unknown) = %d jobs, %v; want 0, nil", len(empty.Jobs), err)
	}
}

// testJobDefinitions: revisions, name:revision, latest active.
func testJobDefinitions(t *testing.T, s *suite) {
	in := s.defInput(t, "exit 0")
	r1, err := s.h.Client.RegisterJobDefinition(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	in.ContainerProperties.Command = []string{"sh", "-c", "exit 1"}
	r2, err := s.h.Client.RegisterJobDefinition(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(r2.Revision) != aws.ToInt32(r1.Revision)+1 {
		t.Errorf("revisions %d then %d", aws.ToInt32(r1.Revision), aws.ToInt32(r2.Revision))
	}
	name := *in.JobDefinitionName
	d, err := s.h.Client.DescribeJobDefinitions(t.Context(), &batch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.JobDefinitions) != 2 {
		t.Errorf("DescribeJobDefinitions: %d revisions, want 2", len(d.JobDefinitions))
	}
	first := s.submit(t, s.in(t, fmt.Sprintf("%s:%d", name, aws.ToInt32(r1.Revision))))
	latest := s.submit(t, s.in(t, name))
	byArn := s.submit(t, s.in(t, aws.ToString(r1.JobDefinitionArn)))
	wantStatus(t, s.wait(t, first), types.JobStatusSucceeded, "")
	wantStatus(t, s.wait(t, latest), types.JobStatusFailed, "")
	wantStatus(t, s.wait(t, byArn), types.JobStatusSucceeded, "")
	if got := aws.ToString(s.one(t, first).JobDefinition); got != aws.ToString(r1.JobDefinitionArn) {
		t.Errorf("jobDefinition = %q, want %q", got, aws.ToString(r1.JobDefinitionArn))
	}
	q, err := s.h.Client.DescribeJobQueues(t.Context(), &batch.DescribeJobQueuesInput{JobQueues: []string{s.h.Queue}})
	if err != nil || len(q.JobQueues) != 1 {
		t.Errorf("DescribeJobQueues(%s) = %v, %v; want one queue", s.h.Queue, q, err)
	}
}
