package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/finalize"
	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// webhookSink is a loopback Slack-compatible webhook that keeps every text.
type webhookSink struct {
	mu    sync.Mutex
	texts []string
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p struct{ Text string }
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &p); err != nil {
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.texts = append(s.texts, p.Text)
	s.mu.Unlock()
	io.WriteString(w, "ok")
}

func (s *webhookSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}

func readSummaryFile(t *testing.T, root, run string) finalize.Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(runs.SummaryKey(run))))
	if err != nil {
		t.Fatal(err)
	}
	var s finalize.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary.json: %v\n%s", err, b)
	}
	return s
}

// TestRunFinalizesOnce: a local run with failures writes summary.json and
// calls the webhook once; finalizing again (by run id, by a stage job's id)
// calls it no more; the re-run of the failed shops finalizes (and notifies)
// too; the deadline check of a finished run sends nothing.
func TestRunFinalizesOnce(t *testing.T) {
	const n, run = 8, "fin"
	dir := t.TempDir()
	root, engDir := filepath.Join(dir, "root"), filepath.Join(dir, "engine")
	registerShStages(t, engDir, run, "2,5")
	fakeRegistry(t, n)
	t.Setenv(envBatchEndpoint, "")
	sink := &webhookSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	t.Setenv("FEEDBATCH_NOTIFY_WEBHOOK", srv.URL+"/services/T0/B0/x")
	t.Setenv("FEEDBATCH_REPORT_URL", "https://reports.example/prod/")
	common := []string{"--root", root}
	engineArgs := []string{"--engine", "local", "--engine-dir", engDir}
	runArgs := append(engineArgs, "--register=false", "--poll", "50ms")

	out, errOut, code := runAppOut(t, append(common, append([]string{"run", "--run", run}, runArgs...)...)...)
	if code != exitShopsFailed {
		t.Fatalf("run exit %d, want %d\n%s%s", code, exitShopsFailed, out, errOut)
	}
	texts := sink.all()
	if len(texts) != 1 {
		t.Fatalf("%d webhook calls after the run, want 1: %q", len(texts), texts)
	}
	for _, want := range []string{
		"feedbatch run fin: finished, 2 of 8 shops failed",
		"feed: 6 succeeded, 2 failed, 0 skipped (failed indexes 2,5)",
		"https://reports.example/prod/runs/fin/report.html",
		"feedbatch rerun fin --failed",
	} {
		if !strings.Contains(texts[0], want) {
			t.Errorf("message lacks %q:\n%s", want, texts[0])
		}
	}
	s := readSummaryFile(t, root, run)
	if !s.Finished || s.Shops != n || s.FailedShops != 2 || s.Stages[1].Stage != "feed" || s.Stages[1].FailedIndexes != "2,5" || s.Stages[2].Succeeded != n {
		t.Errorf("summary.json: %+v", s)
	}

	// Duplicate events: finalize twice more, once through a stage job's id.
	rec, err := planner.ReadRecord(t.Context(), mustStore(t, root), planner.RecordKey(run))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"finalize", run, "--if-finished"},
		{"finalize", "--job-id", rec.Jobs[1].JobID, "--if-finished"},
	} {
		out, errOut, code = runAppOut(t, append(common, append(args, engineArgs...)...)...)
		if code != 0 || !strings.Contains(out, "run fin: finalized; already notified") {
			t.Errorf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if got := len(sink.all()); got != 1 {
		t.Fatalf("%d webhook calls after finalizing again, want 1", got)
	}

	// The re-run of the failed shops finalizes too: one more message.
	out, errOut, code = runAppOut(t, append(common, append([]string{"rerun", run, "--failed"}, runArgs...)...)...)
	if code != 0 {
		t.Fatalf("rerun exit %d\n%s%s", code, out, errOut)
	}
	texts = sink.all()
	if len(texts) != 2 || !strings.Contains(texts[1], "feedbatch re-run 1 of fin: finished, all 8 shops succeeded") {
		t.Fatalf("webhook texts after the re-run: %q", texts)
	}
	if s := readSummaryFile(t, root, run); s.Rerun != 1 || s.FailedShops != 0 || s.RerunCommand != "" {
		t.Errorf("summary.json after the re-run: %+v", s)
	}

	// The deadline check of a finished run is quiet.
	out, errOut, code = runAppOut(t, append(common, append([]string{"finalize", run, "--late"}, engineArgs...)...)...)
	if code != 0 || !strings.Contains(out, "finished before the deadline") || len(sink.all()) != 2 {
		t.Errorf("finalize --late: exit %d, %d calls\n%s%s", code, len(sink.all()), out, errOut)
	}
}

func TestFinalizeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"finalize", "a", "b"},
		{"finalize", "bad/run"},
		{"finalize", "r", "--rerun", "-1"},
		{"finalize", "r", "--notify-webhook", "ftp://x/y"},
		{"finalize", "r", "--notify-sns-topic", "topic"},
	} {
		if _, errOut, code := runAppOut(t, append([]string{"--root", t.TempDir()}, args...)...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", strings.Join(args, " "), code, exitUsage, errOut)
		}
	}
	if got := exitCode(fmt.Errorf("run x: %w", finalize.ErrNotFinished)); got != exitNotFinished || exitNotFinished != 5 {
		t.Errorf("not finished: exit %d, want 5", got)
	}
	if got := exitCode(fmt.Errorf("run x: %w: HTTP 503", finalize.ErrNotify)); got != 75 {
		t.Errorf("notification not sent: exit %d, want 75 (retried by the job definition)", got)
	}
	spec, _ := parseRoot("s3://b/prod/")
	for base, want := range map[string]string{
		"":                                 "s3://b/prod/runs/r/report.html",
		"https://x.example/p":              "https://x.example/p/runs/r/report.html",
		"https://x.example/p/":             "https://x.example/p/runs/r/report.html",
		"https://console.example/?prefix=": "https://console.example/?prefix=runs/r/report.html",
	} {
		if got := reportURL(base, spec, "runs/r/report.html"); got != want {
			t.Errorf("reportURL(%q) = %q, want %q", base, got, want)
		}
	}
}

func TestLateRun(t *testing.T) {
	st := memstore.New()
	now := time.Date(2026, 11, 23, 23, 0, 0, 0, time.UTC)
	if got := lateRun(t.Context(), st, now); got != "2026-11-23" {
		t.Errorf("no run at all: %q, want today's", got)
	}
	put := func(run string, created time.Time) {
		b, _ := json.Marshal(planner.Record{RunID: run, CreatedAt: created})
		if err := st.Put(t.Context(), planner.RecordKey(run), bytes.NewReader(b), nil); err != nil {
			t.Fatal(err)
		}
	}
	put("2026-11-22", now.Add(-30*time.Hour))
	if got := lateRun(t.Context(), st, now); got != "2026-11-23" {
		t.Errorf("yesterday's run is old: %q, want today's (never planned)", got)
	}
	put("2026-11-22", now.Add(-6*time.Hour)) // planned 02:00 in UTC+9
	if got := lateRun(t.Context(), st, now); got != "2026-11-22" {
		t.Errorf("recent run of yesterday's date: %q", got)
	}
	put("2026-11-23", now.Add(-time.Hour))
	if got := lateRun(t.Context(), st, now); got != "2026-11-23" {
		t.Errorf("today's run: %q", got)
	}
}

// TestFinalizeIfFinished: a planned run whose jobs have not run yet is not
// finished: --if-finished writes nothing and exits 5; without it the report
// and summary are written as they stand and nobody is notified.
func TestFinalizeIfFinished(t *testing.T) {
	const run = "unfinished"
	dir := t.TempDir()
	root, engDir := filepath.Join(dir, "root"), filepath.Join(dir, "engine")
	eng, ep, err := local.Start(t.Context(), local.Config{Dir: engDir, VCPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	api := local.BatchClient(ep, eng.Credentials())
	for _, stage := range []string{"collect", "feed", "image"} {
		if _, err := api.RegisterJobDefinition(t.Context(), &batch.RegisterJobDefinitionInput{
			JobDefinitionName: aws.String(planner.DefaultJobDefinition(stage)),
			Type:              types.JobDefinitionTypeContainer,
			ContainerProperties: &types.ContainerProperties{
				Image:                aws.String("local"),
				Command:              []string{"sleep", "600"},
				ResourceRequirements: []types.ResourceRequirement{{Type: types.ResourceTypeVcpu, Value: aws.String("1")}, {Type: types.ResourceTypeMemory, Value: aws.String("16")}},
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(envEngineCredentials, filepath.Join(engDir, local.CredentialsName))
	t.Setenv(envBatchEndpoint, ep)
	fakeRegistry(t, 3)
	sink := &webhookSink{}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	common := []string{"--root", root}
	awsArgs := []string{"--engine", "aws"}
	out, errOut, code := runAppOut(t, append(common, append([]string{"plan", "--run", run}, awsArgs...)...)...)
	if code != 0 {
		t.Fatalf("plan exit %d\n%s%s", code, out, errOut)
	}
	rec, err := planner.ReadRecord(t.Context(), mustStore(t, root), planner.RecordKey(run))
	if err != nil {
		t.Fatal(err)
	}
	// As the rule's job runs it: the run found from a stage job's id.
	args := append(common, append([]string{"finalize", "--job-id", rec.Jobs[0].JobID, "--if-finished", "--notify-webhook", srv.URL}, awsArgs...)...)
	out, errOut, code = runAppOut(t, args...)
	if code != exitNotFinished || !strings.Contains(errOut, "run unfinished: finalize: not finished") {
		t.Fatalf("finalize --if-finished of an unfinished run: exit %d, want %d\n%s%s", code, exitNotFinished, out, errOut)
	}
	// As the template's job definition runs it: an early event is not a failure.
	args = append(common, append([]string{"finalize", "--job-id", rec.Jobs[0].JobID, "--if-finished", "--not-finished-ok", "--notify-webhook", srv.URL}, awsArgs...)...)
	out, errOut, code = runAppOut(t, args...)
	if code != 0 || !strings.Contains(out, "run unfinished: not finished yet; nothing written") {
		t.Fatalf("finalize --if-finished --not-finished-ok of an unfinished run: exit %d, want 0\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "runs", run, "summary.json")); !os.IsNotExist(err) {
		t.Errorf("summary.json written: %v", err)
	}
	out, errOut, code = runAppOut(t, append(common, append([]string{"finalize", run, "--notify-webhook", srv.URL}, awsArgs...)...)...)
	if code != 0 || !strings.Contains(out, "not finished; report and summary written as they stand") {
		t.Fatalf("finalize: exit %d\n%s%s", code, out, errOut)
	}
	if s := readSummaryFile(t, root, run); s.Finished || s.Stages[0].Pending+s.Stages[0].Running != 3 {
		t.Errorf("summary of an unfinished run: %+v", s)
	}
	// The deadline passes: one late message, however often it is checked.
	for range 2 {
		out, errOut, code = runAppOut(t, append(common, append([]string{"finalize", run, "--late", "--notify-webhook", srv.URL}, awsArgs...)...)...)
		if code != 0 {
			t.Fatalf("finalize --late: exit %d\n%s%s", code, out, errOut)
		}
	}
	texts := sink.all()
	if len(texts) != 1 || !strings.Contains(texts[0], "feedbatch run unfinished: LATE, not finished") {
		t.Errorf("webhook texts: %q", texts)
	}
}

// TestRunNotifiesSNS: a local run tells the SNS topic of
// FEEDBATCH_NOTIFY_SNS_TOPIC through aws-sdk-go-v2 (moto's SNS on loopback,
// AWS_ENDPOINT_URL_SNS), which delivers to an HTTP subscriber.
func TestRunNotifiesSNS(t *testing.T) {
	moto := s3test.StartMoto(t)
	t.Setenv("AWS_ACCESS_KEY_ID", moto.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", moto.SecretKey)
	t.Setenv("AWS_REGION", moto.Region)
	t.Setenv("AWS_ENDPOINT_URL_SNS", moto.Endpoint)
	client := sns.New(sns.Options{Region: moto.Region, BaseEndpoint: aws.String(moto.Endpoint), Credentials: moto.Credentials()})
	topic, err := client.CreateTopic(t.Context(), &sns.CreateTopicInput{Name: aws.String("feedbatch")})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan map[string]any, 8)
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if json.NewDecoder(r.Body).Decode(&m) == nil && m["Type"] == "Notification" {
			got <- m
		}
	}))
	defer sub.Close()
	if _, err := client.Subscribe(t.Context(), &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.URL)}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FEEDBATCH_NOTIFY_SNS_TOPIC", aws.ToString(topic.TopicArn))

	const run = "sns"
	dir := t.TempDir()
	root, engDir := filepath.Join(dir, "root"), filepath.Join(dir, "engine")
	registerShStages(t, engDir, run, "1")
	fakeRegistry(t, 3)
	t.Setenv(envBatchEndpoint, "")
	out, errOut, code := runAppOut(t, "--root", root, "run", "--run", run, "--engine", "local", "--engine-dir", engDir, "--register=false", "--poll", "50ms")
	if code != exitShopsFailed {
		t.Fatalf("run exit %d\n%s%s", code, out, errOut)
	}
	select {
	case m := <-got:
		if m["Subject"] != "feedbatch run sns: finished, 1 of 3 shops failed" || !strings.Contains(m["Message"].(string), "feedbatch rerun sns --failed") {
			t.Fatalf("SNS delivered %q / %q", m["Subject"], m["Message"])
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no SNS notification delivered\n%s%s", out, errOut)
	}
	select {
	case m := <-got:
		t.Fatalf("a second notification: %v", m["Subject"])
	case <-time.After(500 * time.Millisecond):
	}
}
