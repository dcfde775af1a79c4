package local

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// LogGroup is AWS Batch's default log group, where a job's streams go
// unless its job definition names another awslogs-group.
const LogGroup = "/aws/batch/job"

// groupsDir holds the streams of log groups other than LogGroup, one
// directory per group (its name path-escaped), beside logsDir.
const groupsDir = "loggroups"

// logStream names the log group and stream of an attempt with the given
// task id, as AWS Batch does: with the awslogs driver and an
// awslogs-stream-prefix, "<prefix>/default/<task-id>" ("default" is the
// container's name in a Batch task), else "<jobdef-name>/default/<task-id>";
// the group is awslogs-group, else LogGroup. A prefix that could not name a
// CloudWatch stream inside the logs directory is made safe like a
// definition name.
func (s *jobSpec) logStream(task string) (group, stream string) {
	var c struct {
		LogConfiguration *struct {
			LogDriver string            `json:"logDriver"`
			Options   map[string]string `json:"options"`
		} `json:"logConfiguration"`
	}
	_ = json.Unmarshal(s.Container, &c) // checked at RegisterJobDefinition
	group, prefix := LogGroup, sanitizeStreamPart(s.DefName)
	if lc := c.LogConfiguration; lc != nil && lc.LogDriver == "awslogs" {
		if g := lc.Options["awslogs-group"]; g != "" {
			group = g
		}
		if p := lc.Options["awslogs-stream-prefix"]; p != "" {
			prefix = p
			if strings.ContainsAny(p, ":*") || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
				prefix = sanitizeStreamPart(p)
			}
		}
	}
	return group, path.Join(prefix, "default", task)
}

func sanitizeStreamPart(s string) string {
	s = strings.NewReplacer("/", "_", "..", "_", ":", "_", "*", "_").Replace(s)
	if s == "" || s == "." {
		return "_"
	}
	return s
}

// LogPath returns the file that holds a log stream (one file per attempt,
// stdout and stderr together). group is a log group name ("" is LogGroup);
// stream is a logStreamName as DescribeJobs reports it
// ("<jobdef-name>/default/<task-id>"). The file may not exist yet. A group
// or stream name that would leave the engine's directories gives "".
func (e *Engine) LogPath(group, stream string) string {
	clean := filepath.Clean(filepath.FromSlash(stream))
	if stream == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return ""
	}
	dir := e.groupDir(group)
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, clean)
}

// groupDir is the directory of a log group's streams ("" for a name that
// would leave the engine's directory).
func (e *Engine) groupDir(group string) string {
	if group == "" || group == LogGroup {
		return filepath.Join(e.cfg.Dir, logsDir)
	}
	g := url.PathEscape(group)
	if g == "." || g == ".." || strings.ContainsRune(g, filepath.Separator) {
		return ""
	}
	return filepath.Join(e.cfg.Dir, groupsDir, g)
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
		if dir := e.groupDir(in.LogGroupName); dir == "" || !isDir(dir) {
			writeLogsError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
			return
		}
	}
	// A name the file system cannot open as a file (a directory, a path
	// through a file, a NUL byte, too long) is a stream that does not
	// exist, never a server error.
	p := e.LogPath(in.LogGroupName, in.LogStreamName)
	var f *os.File
	if p != "" {
		f, err = os.Open(p)
	}
	if p == "" || err != nil {
		writeLogsError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist.")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		writeLogsError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist.")
		return
	}
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
	ts := st.ModTime().UnixMilli()
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

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
