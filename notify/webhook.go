package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/feedbatch/feedbatch/internal/retry"
)

// Webhook posts messages as Slack-compatible JSON ({"text": ...}) to URL.
// 5xx answers, 429 and transport errors (timeouts, refused connections) are
// retried with backoff; any other non-2xx answer fails at once.
type Webhook struct {
	URL string
	// Client is the HTTP client (default: one with a 10 s timeout).
	Client *http.Client
	// Attempts is the number of tries (default 4).
	Attempts int
	// Backoff is the wait before the second try, doubled after each
	// (default 1 s).
	Backoff time.Duration
}

// ErrBadURL is wrapped by the error for a webhook URL that is not an
// absolute http(s) URL. Errors will be checked using errors.Is.
var ErrBadURL = errors.New("notify: bad webhook URL")

// CheckURL refuses a webhook URL that is not absolute http(s).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w %s: want an http(s) URL", ErrBadURL, redactURL(raw))
	}
	return nil
}

// redactURL keeps the scheme and host of a webhook URL: the path of a Slack
// incoming webhook is its secret.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// slackPayload is the JSON body: Slack's incoming webhooks, and the many
// services that accept its format, need only "text".
type slackPayload struct {
	Text string `json:"text"`
}

// Send implements Sender.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	if err := CheckURL(w.URL); err != nil {
		return err
	}
	body, err := json.Marshal(slackPayload{Text: m.Text()})
	if err != nil {
		return fmt.Errorf("notify: webhook: %w", err)
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	attempts := w.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	backoff := w.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	type permanent struct{ error }
	_, err = retry.Do(ctx, retry.Policy{
		Attempts: attempts, Base: backoff, Max: 30 * time.Second, Jitter: 0.2,
		Retryable: func(err error) bool { _, p := err.(permanent); return !p },
	}, func(ctx context.Context) (struct{}, error) {
		again, err := w.post(ctx, client, body)
		if err != nil && !again {
			return struct{}{}, permanent{err}
		}
		return struct{}{}, err
	})
	if p, ok := err.(permanent); ok {
		err = p.error
	}
	if err != nil {
		return fmt.Errorf("notify: webhook %s: %w", redactURL(w.URL), err)
	}
	return nil
}

// post makes one try; retry says whether another try could succeed.
func (w *Webhook) post(ctx context.Context, client *http.Client, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "feedbatch-notify")
	resp, err := client.Do(req)
	if err != nil {
		// Without the URL: its path may be the webhook's secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return true, fmt.Errorf("HTTP %d %s", resp.StatusCode, oneLine(string(snippet), 120))
	default:
		return false, fmt.Errorf("HTTP %d %s", resp.StatusCode, oneLine(string(snippet), 120))
	}
}
