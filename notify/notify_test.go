package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/feedbatch/feedbatch/internal/s3test"
)

var sample = Message{
	Run: "2026-11-23", Shops: 40, FailedShops: 3,
	Stages: []Stage{
		{Name: "collect", Succeeded: 38, Failed: 2, FailedIndexes: "3,17"},
		{Name: "feed", Succeeded: 37, Failed: 1, Skipped: 2, FailedIndexes: "19"},
	},
	Reasons: []Reason{
		{Stage: "collect", Message: "source answered HTTP 404", Shops: 2},
		{Stage: "feed", Message: "item count fell by 80%\n(guard)", Shops: 1},
	},
	FeedsPublished: 111,
	Duration:       42*time.Minute + 3*time.Second,
	ReportURL:      "https://example.invalid/runs/2026-11-23/report.html",
	RerunCommand:   "feedbatch rerun 2026-11-23 --failed",
}

func TestText(t *testing.T) {
	txt := sample.Text()
	for _, want := range []string{
		"feedbatch run 2026-11-23: finished, 3 of 40 shops failed",
		"collect: 38 succeeded, 2 failed, 0 skipped (failed indexes 3,17)",
		"feed: 37 succeeded, 1 failed, 2 skipped (failed indexes 19)",
		"2 shops, collect: source answered HTTP 404",
		"1 shops, feed: item count fell by 80% (guard)",
		"feeds published: 111",
		"duration: 42m3s",
		"report: https://example.invalid/runs/2026-11-23/report.html",
		"re-run the failed shops: feedbatch rerun 2026-11-23 --failed",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	late := Message{Run: "2026-11-23", Rerun: 2, Late: true}
	if got := late.Subject(); got != "feedbatch re-run 2 of 2026-11-23: LATE, not finished" {
		t.Errorf("late subject %q", got)
	}
	ok := Message{Run: "r", Shops: 5}
	if got := ok.Subject(); got != "feedbatch run r: finished, all 5 shops succeeded" {
		t.Errorf("subject %q", got)
	}
	many := Message{Run: "r"}
	for range 8 {
		many.Reasons = append(many.Reasons, Reason{Stage: "feed", Message: "x", Shops: 1})
	}
	if txt := many.Text(); !strings.Contains(txt, "... and 3 more") || strings.Count(txt, "1 shops, feed: x") != maxReasons {
		t.Errorf("reason list not cut at %d:\n%s", maxReasons, txt)
	}
}

// hook is a loopback webhook that answers with the statuses in order
// (then 200) and records every body.
type hook struct {
	mu       sync.Mutex
	statuses []int
	delay    time.Duration // first request only
	bodies   []string
	calls    atomic.Int32
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := h.calls.Add(1)
	b, _ := io.ReadAll(r.Body)
	if n == 1 && h.delay > 0 {
		time.Sleep(h.delay)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, string(b))
	if r.Header.Get("Content-Type") != "application/json" || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	status := http.StatusOK
	if len(h.statuses) > 0 {
		status, h.statuses = h.statuses[0], h.statuses[1:]
	}
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status))
}

func TestWebhook(t *testing.T) {
	for _, tc := range []struct {
		name      string
		statuses  []int
		delay     time.Duration
		wantCalls int32
		wantErr   string
	}{
		{"ok", nil, 0, 1, ""},
		{"5xx retried", []int{500, 503}, 0, 3, ""},
		{"429 retried", []int{429}, 0, 2, ""},
		{"timeout retried", nil, 300 * time.Millisecond, 2, ""},
		{"4xx not retried", []int{404}, 0, 1, "HTTP 404"},
		{"gives up", []int{502, 502, 502}, 0, 3, "HTTP 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &hook{statuses: tc.statuses, delay: tc.delay}
			srv := httptest.NewServer(h)
			defer srv.Close()
			w := &Webhook{
				URL:      srv.URL + "/services/T000/B000/secret-path",
				Client:   &http.Client{Timeout: 100 * time.Millisecond},
				Attempts: 3, Backoff: time.Millisecond,
			}
			err := w.Send(t.Context(), sample)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Send: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Send: err = %v, want %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "secret-path"):
				t.Fatalf("error shows the webhook's secret path: %v", err)
			}
			if got := h.calls.Load(); got != tc.wantCalls {
				t.Fatalf("%d calls, want %d", got, tc.wantCalls)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			var p map[string]any
			if err := json.Unmarshal([]byte(h.bodies[len(h.bodies)-1]), &p); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if p["text"] != sample.Text() || len(p) != 1 {
				t.Fatalf("payload %v, want {text: Text()}", p)
			}
		})
	}
}

func TestWebhookRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens any more
	w := &Webhook{URL: url + "/hook", Attempts: 2, Backoff: time.Millisecond}
	if err := w.Send(t.Context(), sample); err == nil {
		t.Fatal("Send to a closed port: no error")
	}
	for _, bad := range []string{"", "ftp://x/y", "/relative", "https://"} {
		if err := (&Webhook{URL: bad}).Send(t.Context(), sample); err == nil {
			t.Errorf("URL %q accepted", bad)
		}
	}
}

func TestWebhookCancelled(t *testing.T) {
	h := &hook{statuses: []int{500, 500, 500}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	w := &Webhook{URL: srv.URL, Attempts: 3, Backoff: time.Hour}
	go func() {
		for h.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err := w.Send(ctx, sample)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

type failing struct{ calls int }

func (f *failing) Send(context.Context, Message) error { f.calls++; return errors.New("down") }

func TestAll(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	f := &failing{}
	err := All{f, &Webhook{URL: srv.URL}}.Send(t.Context(), sample)
	if err == nil || f.calls != 1 || h.calls.Load() != 1 {
		t.Fatalf("All: err %v, failing called %d, webhook called %d", err, f.calls, h.calls.Load())
	}
}

func TestSubject(t *testing.T) {
	long := strings.Repeat("é", 150)
	got := subject("a\nb" + long)
	if len(got) != maxSubject || strings.ContainsAny(got, "\n") {
		t.Fatalf("subject %q (%d)", got, len(got))
	}
}

// TestSNS publishes through aws-sdk-go-v2 to moto's SNS, which delivers to
// an HTTP subscriber on loopback.
func TestSNS(t *testing.T) {
	srv := s3test.StartMoto(t)
	client := sns.New(sns.Options{
		Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), Credentials: srv.Credentials(),
	})
	ctx := t.Context()
	topic, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("feedbatch-notify")})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan map[string]any, 4)
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err == nil {
			got <- m
		}
	}))
	defer sub.Close()
	if _, err := client.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(sub.URL + "/sns"),
	}); err != nil {
		t.Fatal(err)
	}
	if err := NewSNS(client, aws.ToString(topic.TopicArn)).Send(ctx, sample); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-got:
			if m["Type"] != "Notification" {
				continue // a subscription confirmation
			}
			if m["Subject"] != sample.Subject() || m["Message"] != sample.Text() {
				t.Fatalf("delivered subject %q message %q", m["Subject"], m["Message"])
			}
			return
		case <-deadline:
			t.Fatal("moto delivered no notification to the subscriber")
		}
	}
}

func TestSNSUnknownTopic(t *testing.T) {
	srv := s3test.StartMoto(t)
	client := sns.New(sns.Options{
		Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), Credentials: srv.Credentials(),
		RetryMaxAttempts: 1,
	})
	err := NewSNS(client, "arn:aws:sns:us-east-1:123456789012:nope").Send(t.Context(), sample)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("publish to a missing topic: %v", err)
	}
}

// FuzzSubject: whatever a run id or reason holds, the SNS subject is
// printable ASCII of at most 100 characters (SNS rejects anything else).
func FuzzSubject(f *testing.F) {
	f.Add("feedbatch run 2026-11-23: finished")
	f.Add("서울\n\x00" + strings.Repeat("x", 200))
	f.Fuzz(func(t *testing.T, s string) {
		got := subject(s)
		if len(got) > maxSubject {
			t.Fatalf("subject of %d bytes", len(got))
		}
		for _, b := range []byte(got) {
			if b < 0x20 || b > 0x7e {
				t.Fatalf("byte %#x in subject %q", b, got)
			}
		}
	})
}
