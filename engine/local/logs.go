package local

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LogGroup is the log group the engine's streams belong to (AWS Batch's
// default group).
const LogGroup = "/aws/batch/job"

// LogPath returns the file that holds the log stream (one file per attempt,
// stdout and stderr together). stream is a logStreamName as DescribeJobs
// reports it ("<jobdef-name>/default/<task-id>"). The file may not exist
// yet. A stream name that would leave the logs directory gives "".
func (e *Engine) LogPath(stream string) string {
	clean := filepath.Clean(filepath.FromSlash(stream))
	if stream == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return ""
	}
	return filepath.Join(e.cfg.Dir, logsDir, clean)
}

type getLogEventsInput struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
	StartFromHead *bool  `json:"startFromHead"`
	NextToken     string `json:"nextToken"`
	Limit         *int32 `json:"limit"`
}

type outputLogEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type getLogEventsOutput struct {
	Events            []outputLogEvent `json:"events"`
	NextForwardToken  string           `json:"nextForwardToken"`
	NextBackwardToken string           `json:"nextBackwardToken"`
}

const logsTarget = "Logs_20140328.GetLogEvents"

// serveLogs implements CloudWatch Logs GetLogEvents over the JSON 1.1
// protocol. Every line of the attempt's file is one event; events carry
// the file's modification time (the engine does not time-stamp lines).
// Tokens are "f/<line>" and "b/<line>".
func (e *Engine) serveLogs(w http.ResponseWriter, r *http.Request) {
	if t := r.Header.Get("X-Amz-Target"); t != logsTarget {
		writeLogsError(w, http.StatusBadRequest, "UnknownOperationException", "operation "+t+" is not supported by the local engine")
		return
	}
	var in getLogEventsInput
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		writeLogsError(w, http.StatusBadRequest, "InvalidParameterException", "malformed request")
		return
	}
	if in.LogGroupName != "" && in.LogGroupName != LogGroup {
		writeLogsError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
		return
	}
	p := e.LogPath(in.LogStreamName)
	if p == "" {
		writeLogsError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist.")
		return
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		writeLogsError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist.")
		return
	}
	if err != nil {
		writeLogsError(w, http.StatusInternalServerError, "ServiceUnavailableException", err.Error())
		return
	}
	defer f.Close()
	limit := 10000
	if in.Limit != nil && *in.Limit > 0 {
		limit = min(int(*in.Limit), 10000)
	}
	fromHead := in.StartFromHead != nil && *in.StartFromHead
	start := -1 // first line to return
	if tok := in.NextToken; tok != "" {
		dir, n, ok := strings.Cut(tok, "/")
		line, err := strconv.Atoi(n)
		if !ok || err != nil || line < 0 || (dir != "f" && dir != "b") {
			writeLogsError(w, http.StatusBadRequest, "InvalidParameterException", "The specified nextToken is invalid.")
			return
		}
		if dir == "b" {
			start = max(line-limit, 0)
			limit = line - start
		} else {
			start = line
		}
	}
	var ts int64
	if st, err := f.Stat(); err == nil {
		ts = st.ModTime().UnixMilli()
	}
	var lines []string
	total := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if start >= 0 {
			if total >= start && len(lines) < limit {
				lines = append(lines, sc.Text())
			}
		} else {
			lines = append(lines, sc.Text())
			if !fromHead && len(lines) > limit {
				lines = lines[1:]
			}
		}
		total++
	}
	if start < 0 {
		if fromHead {
			start = 0
			if len(lines) > limit {
				lines = lines[:limit]
			}
		} else {
			start = total - len(lines)
		}
	}
	out := getLogEventsOutput{Events: make([]outputLogEvent, 0, len(lines))}
	for _, l := range lines {
		out.Events = append(out.Events, outputLogEvent{Timestamp: ts, Message: l, IngestionTime: ts})
	}
	out.NextForwardToken = "f/" + strconv.Itoa(start+len(lines))
	out.NextBackwardToken = "b/" + strconv.Itoa(start)
	writeJSON(w, "application/x-amz-json-1.1", out)
}

func writeLogsError(w http.ResponseWriter, status int, typ, msg string) {
	b, _ := json.Marshal(map[string]string{"__type": typ, "message": msg})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
