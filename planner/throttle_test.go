package planner

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"

	"github.com/feedbatch/feedbatch/store/memstore"
)

// batchServer answers SubmitJob with the given status codes in turn (then
// 200), and ListJobs with the jobs it created. It counts the calls.
type batchServer struct {
	mu      sync.Mutex
	codes   []int
	submits int
	lists   int
	created []string // job names that exist
}

func (s *batchServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	var in struct {
		JobName string `json:"jobName"`
	}
	json.Unmarshal(body, &in)
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/v1/submitjob":
		s.submits++
		code := http.StatusOK
		if len(s.codes) > 0 {
			code, s.codes = s.codes[0], s.codes[1:]
		}
		switch code {
		case http.StatusTooManyRequests:
			w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
			w.WriteHeader(code)
			io.WriteString(w, `{"message":"Too Many Requests"}`)
		case http.StatusBadGateway:
			// The job was created, but the answer is lost.
			s.created = append(s.created, in.JobName)
			w.WriteHeader(code)
			io.WriteString(w, `{"message":"bad gateway"}`)
		default:
			s.created = append(s.created, in.JobName)
			io.WriteString(w, `{"jobId":"id-`+in.JobName+`","jobName":"`+in.JobName+`"}`)
		}
	case "/v1/listjobs":
		s.lists++
		var list []string
		for _, n := range s.created {
			list = append(list, `{"jobId":"id-`+n+`","jobName":"`+n+`","createdAt":1}`)
		}
		io.WriteString(w, `{"jobSummaryList":[`+strings.Join(list, ",")+`]}`)
	default:
		http.NotFound(w, r)
	}
}

func newBatchClient(url string) *batch.Client {
	return batch.New(batch.Options{
		BaseEndpoint: aws.String(url),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
}

// TestSubmitRetriesThrottlingOnly drives the real SDK client: a throttled
// SubmitJob is retried (nothing was created), a failure that may have
// created the job is not retried but resolved by name through ListJobs.
func TestSubmitRetriesThrottlingOnly(t *testing.T) {
	tests := []struct {
		name        string
		codes       []int
		wantSubmits int
		// One look-up by name before each of the 3 submissions, plus one
		// after a failed one.
		wantLists int
	}{
		{"ok", nil, 3, 3},
		{"throttled twice", []int{429, 429}, 5, 3},
		{"answer lost", []int{502}, 3, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := &batchServer{codes: tc.codes}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			in := planInput(3)
			rec, err := Plan(t.Context(), memstore.New(), newBatchClient(hs.URL), in)
			if err != nil {
				t.Fatal(err)
			}
			if srv.submits != tc.wantSubmits || srv.lists != tc.wantLists || len(srv.created) != 3 {
				t.Errorf("submits %d (want %d), lists %d (want %d), created %v", srv.submits, tc.wantSubmits, srv.lists, tc.wantLists, srv.created)
			}
			for _, j := range rec.Jobs {
				if j.JobID != "id-"+j.Name {
					t.Errorf("job %s id %s", j.Name, j.JobID)
				}
			}
		})
	}
}
