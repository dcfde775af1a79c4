package local

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/feedbatch/feedbatch/engine"
)

// running is an attempt in progress. Its flags are guarded by the engine's
// lock.
type running struct {
	pid        int // 0 until started
	done       chan struct{}
	terminated bool // TerminateJob
	stopReason string
	timedOut   bool
	hostLost   bool // the engine is closing
	killing    bool
	exited     bool // reaped: its pid may be reused, never signal it again
}

// startAttempt moves j to STARTING and starts its process in the
// background (under the lock; resources are already reserved).
func (e *Engine) startAttempt(j *job) {
	task := newTaskID()
	group, stream := j.spec.logStream(task)
	j.rec.Attempts = append(j.rec.Attempts, attemptRecord{TaskID: task, LogStream: stream})
	r := &running{done: make(chan struct{})}
	j.run = r
	e.setStatus(j, engine.StatusStarting)
	argv, env := e.commandLine(j)
	logPath := e.LogPath(group, stream)
	var timeout time.Duration
	if t := j.spec.Timeout; t != nil && t.AttemptDurationSeconds != nil {
		timeout = time.Duration(*t.AttemptDurationSeconds) * time.Second
	}
	e.runs.Add(1)
	go e.runAttempt(j, r, argv, env, logPath, timeout)
}

// DefaultPassEnv are the variables of the engine's environment that reach
// every child, besides Config.PassEnv: what a container gets from its host
// (PATH, HOME, TMPDIR, locale and time zone), proxy settings, and the AWS
// SDK's credential and endpoint settings (a container's task role). A name
// ending in "*" passes every variable with that prefix. Nothing
// else of the operator's shell reaches a child (a stray FEEDBATCH_INDEX or
// FEEDBATCH_FORCE would change what every child does).
var DefaultPassEnv = []string{
	"PATH", "HOME", "TMPDIR", "USER", "LANG", "LC_ALL", "TZ",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SSM", "AWS_EC2_METADATA_DISABLED",
	// What a job definition's secrets (Secrets Manager or SSM values set
	// as environment variables) are in a container: credentials a
	// registry names as ${env:FEEDBATCH_SECRET_...}.
	"FEEDBATCH_SECRET_*",
}

// commandLine is the process's argv and environment: the passed-through
// variables of the engine's environment (DefaultPassEnv, Config.PassEnv),
// then the job's environment, then the variables AWS Batch sets.
func (e *Engine) commandLine(j *job) (argv, env []string) {
	argv = append([]string(nil), j.spec.Command...)
	if len(argv) > 0 && filepath.Base(argv[0]) == "feedbatch" {
		argv[0] = e.cfg.Self
	}
	for _, names := range [][]string{DefaultPassEnv, e.cfg.PassEnv} {
		for _, name := range names {
			if prefix, ok := strings.CutSuffix(name, "*"); ok {
				for _, kv := range os.Environ() {
					if strings.HasPrefix(kv, prefix) && !strings.HasPrefix(kv, "AWS_BATCH") {
						env = append(env, kv)
					}
				}
				continue
			}
			if v, ok := os.LookupEnv(name); ok && !strings.HasPrefix(name, "AWS_BATCH") {
				env = append(env, name+"="+v)
			}
		}
	}
	for _, kv := range j.spec.Environment {
		env = append(env, kv.Name+"="+kv.Value)
	}
	env = append(env,
		"AWS_BATCH_JOB_ID="+j.rec.ID,
		"AWS_BATCH_JOB_ATTEMPT="+strconv.Itoa(len(j.rec.Attempts)),
		"AWS_BATCH_JQ_NAME="+j.spec.Queue,
		"AWS_BATCH_CE_NAME="+e.cfg.CEName,
	)
	if j.parent != nil {
		env = append(env,
			"AWS_BATCH_JOB_ARRAY_INDEX="+strconv.Itoa(int(j.index)),
			"AWS_BATCH_JOB_ARRAY_SIZE="+strconv.Itoa(int(j.spec.ArraySize)),
		)
	}
	return argv, env
}

// result is how an attempt's process ended.
type result struct {
	exitCode *int32
	startErr error
}

func (e *Engine) runAttempt(j *job, r *running, argv, env []string, logPath string, timeout time.Duration) {
	defer e.runs.Done()
	defer close(r.done)
	res := e.execute(j, r, argv, env, logPath, timeout)
	e.lock()
	e.finishAttempt(j, r, res)
	e.unlock()
	e.poke()
}

func (e *Engine) execute(j *job, r *running, argv, env []string, logPath string, timeout time.Duration) result {
	if len(argv) == 0 {
		return result{startErr: errors.New("the job has no command")}
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return result{startErr: err}
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return result{startErr: err}
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout = f
	cmd.Stderr = f
	// Its own process group (stopped as a whole), and SIGKILL when the
	// engine dies: a crashed engine leaves no process behind to run beside
	// the retry. The parent-death signal follows the thread that forked, so
	// that thread stays locked to this goroutine until the process is reaped.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	e.lock()
	if r.terminated || r.hostLost {
		e.unlock()
		return result{} // stopped before its process started: no exit code
	}
	err = cmd.Start()
	if err != nil {
		e.unlock()
		fmt.Fprintf(f, "CannotStartContainerError: %v\n", err)
		return result{startErr: err}
	}
	r.pid = cmd.Process.Pid
	now := e.nowMS()
	j.rec.StartedAt = now
	a := &j.rec.Attempts[len(j.rec.Attempts)-1]
	a.StartedAt = now
	a.PID = r.pid
	a.PIDStart, _ = processStart(r.pid)
	e.setStatus(j, engine.StatusRunning)
	e.unlock()

	var timer *time.Timer
	if timeout > 0 {
		timer = time.AfterFunc(timeout, func() {
			e.lock()
			defer e.unlock()
			if !r.killing && !r.exited {
				r.timedOut = true
				e.killLocked(r)
			}
		})
	}
	werr := cmd.Wait()
	e.lock()
	r.exited = true
	// The essential process is gone: like a stopped task, take down what it
	// left running in its process group.
	_ = syscall.Kill(-r.pid, syscall.SIGKILL)
	e.unlock()
	if timer != nil {
		timer.Stop()
	}
	code := exitCodeOf(cmd.ProcessState, werr)
	return result{exitCode: &code}
}

// exitCodeOf is the container-style exit code: the process's, or 128+signal.
func exitCodeOf(ps *os.ProcessState, err error) int32 {
	if ps == nil {
		return 255
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int32(128 + int(ws.Signal()))
	}
	return int32(ps.ExitCode())
}

// killLocked sends SIGTERM to the attempt's process group, then SIGKILL
// after the grace if it is still there (under the lock).
func (e *Engine) killLocked(r *running) {
	if r.killing || r.exited {
		return
	}
	r.killing = true
	if r.pid == 0 {
		return // not started yet: execute sees the flags
	}
	pid := r.pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	grace := e.cfg.KillGrace
	go func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-r.done:
		case <-t.C:
			e.lock()
			if !r.exited {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
			}
			e.unlock()
		}
	}()
}

// finishAttempt records how an attempt ended and decides the job's next
// status (under the lock).
func (e *Engine) finishAttempt(j *job, r *running, res result) {
	j.run = nil
	e.release(j)
	a := j.lastAttempt()
	now := e.nowMS()
	if a.StartedAt == 0 {
		a.StartedAt = now
	}
	a.StoppedAt = now
	a.ExitCode = res.exitCode
	retry := false
	reason := reasonEssentialExited
	switch {
	case r.terminated:
		j.rec.IsTerminated = true
		reason = r.stopReason
		a.StatusReason = reason
	case r.timedOut:
		reason = reasonTimeout
		a.StatusReason = reason
	case r.hostLost:
		reason = reasonHostLost
		a.StatusReason = reason
		retry = shouldRetry(j.spec, len(j.rec.Attempts), a)
	case res.startErr != nil:
		a.Reason = truncate("CannotStartContainerError: "+res.startErr.Error(), 255)
		reason = reasonTaskNotStarted
		a.StatusReason = reason
		retry = shouldRetry(j.spec, len(j.rec.Attempts), a)
	case *res.exitCode == 0:
		a.StatusReason = reasonEssentialExited
		j.rec.StatusReason = reasonEssentialExited
		e.setStatus(j, engine.StatusSucceeded)
		return
	default:
		a.StatusReason = reasonEssentialExited
		retry = shouldRetry(j.spec, len(j.rec.Attempts), a)
	}
	if retry {
		j.rec.StatusReason = reason
		e.setStatus(j, engine.StatusRunnable)
		j.elem = e.runnable.PushBack(j)
		return
	}
	e.fail(j, reason)
}

// settleLost ends the attempt of a job whose process was lost while the
// engine was down (under the lock).
func (e *Engine) settleLost(j *job) {
	r := &running{hostLost: true}
	// The resources were never reserved in this process: balance release.
	e.freeCPU -= j.spec.CPUMilli
	e.freeMem -= j.spec.MemMiB
	if len(j.rec.Attempts) == 0 {
		j.rec.Attempts = append(j.rec.Attempts, attemptRecord{TaskID: newTaskID()})
	}
	e.finishAttempt(j, r, result{})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func itoa32(n int32) string { return strconv.Itoa(int(n)) }
