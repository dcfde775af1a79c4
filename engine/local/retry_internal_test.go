package local

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func i32(n int32) *int32 { return &n }

// TestShouldRetry pins the evaluateOnExit rules: every given condition of
// an entry must match, trailing-* prefixes, first match wins, no match
// retries, and attempts bound everything.
func TestShouldRetry(t *testing.T) {
	exitCode := func(c int32, reason, status string) *attemptRecord {
		return &attemptRecord{ExitCode: i32(c), Reason: reason, StatusReason: status}
	}
	noCode := &attemptRecord{StatusReason: reasonHostLost}
	ev := func(action, code, reason, status string) evaluateOnExit {
		return evaluateOnExit{Action: action, OnExitCode: code, OnReason: reason, OnStatusReason: status}
	}
	tests := []struct {
		name     string
		attempts int32
		made     int
		rules    []evaluateOnExit
		a        *attemptRecord
		want     bool
	}{
		{"attempts left, no rules", 3, 1, nil, exitCode(1, "", ""), true},
		{"attempts used up", 3, 3, nil, exitCode(1, "", ""), false},
		{"default single attempt", 0, 1, nil, exitCode(1, "", ""), false},
		{"exact exit code EXIT", 3, 1, []evaluateOnExit{ev("EXIT", "1", "", "")}, exitCode(1, "", ""), false},
		{"exit code prefix", 3, 1, []evaluateOnExit{ev("EXIT", "1*", "", "")}, exitCode(137, "", ""), false},
		{"exit code mismatch retries", 3, 1, []evaluateOnExit{ev("EXIT", "2", "", "")}, exitCode(1, "", ""), true},
		{"star matches any code", 3, 1, []evaluateOnExit{ev("EXIT", "*", "", "")}, exitCode(0, "", ""), false},
		{"no exit code never matches onExitCode", 3, 1, []evaluateOnExit{ev("EXIT", "*", "", "")}, noCode, true},
		{"host lost by status reason", 3, 1, []evaluateOnExit{ev("RETRY", "", "", "Host EC2*"), ev("EXIT", "", "", "*")}, noCode, true},
		{"all conditions must match", 3, 1, []evaluateOnExit{ev("EXIT", "1", "OutOfMemory*", "")}, exitCode(1, "", ""), true},
		{"all conditions match", 3, 1, []evaluateOnExit{ev("EXIT", "1", "OutOfMemory*", "")}, exitCode(1, "OutOfMemoryError: killed", ""), false},
		{"first match wins", 3, 1, []evaluateOnExit{ev("RETRY", "1", "", ""), ev("EXIT", "*", "", "")}, exitCode(1, "", ""), true},
		{"action case-insensitive", 3, 1, []evaluateOnExit{ev("exit", "1", "", "")}, exitCode(1, "", ""), false},
		{"matching is case-sensitive", 3, 1, []evaluateOnExit{ev("EXIT", "", "", "essential*")}, exitCode(1, "", reasonEssentialExited), true},
		{"RETRY still bounded by attempts", 2, 2, []evaluateOnExit{ev("RETRY", "*", "", "")}, exitCode(1, "", ""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &jobSpec{}
			if tc.attempts > 0 {
				s.RetryStrategy = &retryStrategy{Attempts: i32(tc.attempts), EvaluateOnExit: tc.rules}
			}
			if got := shouldRetry(s, tc.made, tc.a); got != tc.want {
				t.Errorf("shouldRetry = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzGetLogEvents feeds arbitrary GetLogEvents requests: answers are
// events or a well-formed error, never a crash, a 5xx or a file outside the
// logs directory.
func FuzzGetLogEvents(f *testing.F) {
	for _, s := range []string{
		`{"logStreamName":"d/default/t","startFromHead":true}`,
		`{"logStreamName":"d/default/t","nextToken":"f/2","limit":1}`,
		`{"logStreamName":"d/default/t","nextToken":"b/3"}`,
		`{"logStreamName":"../../../etc/passwd"}`,
		`{"logStreamName":"d/default/t","nextToken":"f/-1"}`,
		`{"logStreamName":"d/default/t","limit":-5}`, `{`, `null`,
		`{"logStreamName":"d/default/t/x"}`, `{"logStreamName":"d/default"}`, `{"logStreamName":"d/\u0000"}`,
		`{"logGroupName":"..","logStreamName":"d/default/t"}`, `{"logGroupName":"/g","logStreamName":"../../logs/d/default/t"}`,
		`{"logStreamName":"` + strings.Repeat("n", 300) + `"}`,
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	e := &Engine{cfg: Config{Dir: dir}}
	if err := os.MkdirAll(filepath.Join(dir, logsDir, "d", "default"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, logsDir, "d", "default", "t"), []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", logsTarget)
		rec := httptest.NewRecorder()
		e.serveLogs(rec, req)
		if rec.Code >= 500 {
			t.Errorf("status %d: %s", rec.Code, rec.Body.String())
		}
		if rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), "root:") {
			t.Errorf("read outside the logs directory: %s", rec.Body.String())
		}
	})
}

// TestGetLogEventsBadRequests: requests the file system cannot answer (a
// path through a file, a directory, a NUL byte, a name too long, a group
// escaping the engine's directory) are 400 ResourceNotFoundException, never
// a 500.
func TestGetLogEventsBadRequests(t *testing.T) {
	dir := t.TempDir()
	e := &Engine{cfg: Config{Dir: dir}}
	if err := os.MkdirAll(filepath.Join(dir, logsDir, "d", "default"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, logsDir, "d", "default", "t"), []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{
		`{"logStreamName":"d/default/t/x"}`,
		`{"logStreamName":"d/default"}`,
		`{"logStreamName":"d/\u0000"}`,
		`{"logStreamName":"` + strings.Repeat("n", 300) + `"}`,
		`{"logGroupName":"..","logStreamName":"d/default/t"}`,
		`{"logGroupName":"/no/group","logStreamName":"d/default/t"}`,
	} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", logsTarget)
		rec := httptest.NewRecorder()
		e.serveLogs(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "ResourceNotFoundException") {
			t.Errorf("%.60s: %d %s, want 400 ResourceNotFoundException", body, rec.Code, rec.Body.String())
		}
	}
}
