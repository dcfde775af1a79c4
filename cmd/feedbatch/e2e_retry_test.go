package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/collect/source"
)

// hangingSource serves shop catalogs over loopback HTTP. /hang/<name>
// sends the header and one row, then holds the first request open until
// the client goes away (a child stopped mid-stage) and serves later ones
// in full; /bad lacks the columns collect requires.
type hangingSource struct {
	mu      sync.Mutex
	seen    map[string]int
	started chan string // a hanging request's name, once its row is sent
}

const retryCatalog = "id,title,description,link,image_link,price,availability\n" +
	"A1,Red Shirt,Soft cotton,https://shop.example/a1,https://shop.example/a1.jpg,59.00 EUR,in stock\n" +
	"A2,Blue Shirt,Warm wool,https://shop.example/a2,https://shop.example/a2.jpg,19.50 EUR,in stock\n"

func (s *hangingSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/bad" {
		fmt.Fprint(w, "name;cost\nRed Shirt;59\n")
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/hang/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	s.seen[name]++
	first := s.seen[name] == 1
	s.mu.Unlock()
	if !first {
		fmt.Fprint(w, retryCatalog)
		return
	}
	head, _, _ := strings.Cut(retryCatalog, "A2,")
	w.Header().Set("Content-Length", strconv.Itoa(len(retryCatalog)))
	fmt.Fprint(w, head)
	w.(http.Flusher).Flush()
	s.started <- name
	<-r.Context().Done()
}

// TestStageRetryContract drives the exit contract through the local engine
// with cfn/template.yaml's collect job definition and the real `feedbatch
// stage collect` as the child: a child stopped by SIGTERM mid-stage exits
// 75 and succeeds on attempt 2; bad input exits 65 after one attempt; a
// lost host (the engine closed mid-stage) is retried and succeeds.
func TestStageRetryContract(t *testing.T) {
	src := &hangingSource{seen: map[string]int{}, started: make(chan string, 4)}
	srv := httptest.NewServer(src)
	defer srv.Close()

	dir := t.TempDir()
	root := "file://" + filepath.Join(dir, "root")
	st := mustStore(t, root)
	const run = "retry"
	var rows []manifest.Row
	for i, path := range []string{"/hang/sigterm", "/bad", "/hang/hostloss"} {
		id := fmt.Sprintf("shop-%d", i)
		rows = append(rows, manifest.Row{Index: int64(i), ShopID: id, Name: id, Source: manifest.Source{URL: srv.URL + path, Format: "csv"},
			Platforms: []string{"google"}, Currency: "EUR", Country: "DE", Image: manifest.DefaultImageSpec, OutputPrefix: "shops/" + id + "/", OriginIndex: -1})
	}
	if err := manifest.Save(t.Context(), st, manifest.Key(run), manifest.Meta{RunID: run, CreatedAt: time.Now()}, rows, nil); err != nil {
		t.Fatal(err)
	}

	cfg := local.Config{Dir: filepath.Join(dir, "engine"), VCPUs: 4, MemoryMiB: 8192, KillGrace: 5 * time.Second}
	eng, ep, err := local.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { eng.Close() }()
	api := local.BatchClient(ep, eng.Credentials())
	if err := registerJobDefinitions(t.Context(), api, root, []string{"collect"}); err != nil {
		t.Fatal(err)
	}
	// The child's environment travels with the job, as it would to a
	// container: the engine's own environment is not the child's.
	submit := func(api *batch.Client, index int) string {
		t.Helper()
		env := map[string]string{
			stages.EnvManifest:     manifest.Key(run),
			stages.EnvIndex:        strconv.Itoa(index),
			envTestChild:           "app",
			source.EnvAllowNets:    "127.0.0.1/32",
			"FEEDBATCH_LOG_FORMAT": "text",
		}
		var kv []types.KeyValuePair
		for k, v := range env {
			kv = append(kv, types.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
		}
		out, err := api.SubmitJob(t.Context(), &batch.SubmitJobInput{
			JobName: aws.String(fmt.Sprintf("collect-%d", index)), JobQueue: aws.String("feedbatch"),
			JobDefinition:      aws.String("feedbatch-collect"),
			ContainerOverrides: &types.ContainerOverrides{Environment: kv},
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.JobId)
	}

	sigterm, bad := submit(api, 0), submit(api, 1)
	waitStarted(t, src, "sigterm")
	pid := stageChild(t, "collect", 0)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, api, eng, sigterm)
	if j.Status != types.JobStatusSucceeded || len(j.Attempts) != 2 || attemptExit(j.Attempts[0]) != stages.ExitRetryable {
		t.Errorf("SIGTERM mid-stage: %s after %d attempt(s), first exit %d; want SUCCEEDED on attempt 2 after exit %d\n%s",
			j.Status, len(j.Attempts), attemptExit(j.Attempts[0]), stages.ExitRetryable, jobLogs(t, eng, j))
	}
	j = waitJob(t, api, eng, bad)
	if j.Status != types.JobStatusFailed || len(j.Attempts) != 1 || attemptExit(j.Attempts[0]) != stages.ExitPermanent {
		t.Errorf("bad input: %s after %d attempt(s), exit %d; want FAILED after one attempt with exit %d\n%s",
			j.Status, len(j.Attempts), attemptExit(j.Attempts[0]), stages.ExitPermanent, jobLogs(t, eng, j))
	}

	// Host loss: the engine goes away mid-stage, as a reclaimed Spot host
	// does, and the job is retried when it comes back.
	hostloss := submit(api, 2)
	waitStarted(t, src, "hostloss")
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng, ep, err = local.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	api = local.BatchClient(ep, eng.Credentials())
	j = waitJob(t, api, eng, hostloss)
	if j.Status != types.JobStatusSucceeded || len(j.Attempts) != 2 ||
		!strings.HasPrefix(aws.ToString(j.Attempts[0].StatusReason), "Host EC2") {
		t.Errorf("host loss: %s after %d attempt(s), first %q; want SUCCEEDED on attempt 2 after Host EC2...\n%s",
			j.Status, len(j.Attempts), aws.ToString(j.Attempts[0].StatusReason), jobLogs(t, eng, j))
	}
	for i, want := range []string{stages.StatusSucceeded, stages.StatusFailed, stages.StatusSucceeded} {
		res, err := readResultRecord(t, st, stages.ResultKey(manifest.Key(run), "collect", int64(i)))
		if err != nil || res.Status != want || res.Permanent != (want == stages.StatusFailed) {
			t.Errorf("index %d result record: %s permanent=%v (%v), want %s", i, res.Status, res.Permanent, err, want)
		}
	}
}

func waitStarted(t *testing.T, src *hangingSource, name string) {
	t.Helper()
	select {
	case got := <-src.started:
		if got != name {
			t.Fatalf("source %s hangs, want %s", got, name)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("no child fetched the source %s", name)
	}
}

// waitJob polls DescribeJobs until the job ends.
func waitJob(t *testing.T, api *batch.Client, eng *local.Engine, id string) types.JobDetail {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := api.DescribeJobs(t.Context(), &batch.DescribeJobsInput{Jobs: []string{id}})
		if err != nil || len(out.Jobs) != 1 {
			t.Fatalf("describe %s: %v", id, err)
		}
		j := out.Jobs[0]
		if j.Status == types.JobStatusSucceeded || j.Status == types.JobStatusFailed {
			if len(j.Attempts) == 0 {
				t.Fatalf("job %s ended %s without attempts (%s)", id, j.Status, aws.ToString(j.StatusReason))
			}
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s\n%s", id, j.Status, jobLogs(t, eng, j))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func attemptExit(a types.AttemptDetail) int {
	if a.Container == nil || a.Container.ExitCode == nil {
		return -1
	}
	return int(*a.Container.ExitCode)
}

// jobLogs is every attempt's log, for a failure message.
func jobLogs(t *testing.T, eng *local.Engine, j types.JobDetail) string {
	var b bytes.Buffer
	for i, a := range j.Attempts {
		if a.Container == nil {
			continue
		}
		log, err := os.ReadFile(eng.LogPath("", aws.ToString(a.Container.LogStreamName)))
		fmt.Fprintf(&b, "--- attempt %d (%s, exit %d): %v\n%s", i+1, aws.ToString(a.StatusReason), attemptExit(a), err, log)
	}
	return b.String()
}

// stageChild finds the process of `feedbatch stage <stage>` for index
// among this test's descendants (the engine runs this binary as the child).
func stageChild(t *testing.T, stage string, index int) int {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{self, "stage", stage}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		ents, err := os.ReadDir("/proc")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || !descendant(pid) {
				continue
			}
			cmd, err1 := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			env, err2 := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if err1 != nil || err2 != nil {
				continue
			}
			if slices.Equal(strings.Split(strings.TrimSuffix(string(cmd), "\x00"), "\x00"), want) &&
				slices.Contains(strings.Split(string(env), "\x00"), stages.EnvIndex+"="+strconv.Itoa(index)) {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no process of stage %s index %d", stage, index)
	return 0
}

// descendant reports whether pid descends from this process.
func descendant(pid int) bool {
	me := os.Getpid()
	for range 16 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 2 {
			return false
		}
		ppid, err := strconv.Atoi(f[1])
		if err != nil || ppid <= 1 {
			return false
		}
		if ppid == me {
			return true
		}
		pid = ppid
	}
	return false
}
