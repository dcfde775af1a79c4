package local

import (
	"context"
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

// running is an attempt in progress. Its fields are guarded by the
// engine's lock.
type running struct {
	terminated bool // TerminateJob
	stopReason string
	timedOut   bool
	hostLost   bool // the engine is closing
	stopping   bool // asked to stop: its context is (or will be) cancelled
	exited     bool // reaped: its pid may be reused, never signal it again

	// Set once its process started:
	cancel      context.CancelFunc       // cancels the command's context; exec then calls termGroup
	signal      func(sig syscall.Signal) // signals its process group
	stopTimeout func() bool              // disarms the timeout
	stopKill    func() bool              // disarms the SIGKILL after the grace
}

// startAttempt moves j to STARTING and starts its process in the
// background (under the lock; resources are free for it). An illegal
// change returns an error and starts nothing.
func (e *Engine) startAttempt(j *job) error {
	if err := engine.Transition(j.rec.Status, engine.StatusStarting); err != nil {
		return fmt.Errorf("job %s: %w", j.rec.ID, err)
	}
	e.reserve(j)
	task := newTaskID()
	group, stream := j.spec.logStream(task)
	j.rec.Attempts = append(j.rec.Attempts, attemptRecord{TaskID: task, LogStream: stream})
	r := &running{}
	j.run = r
	if err := e.setStatus(j, engine.StatusStarting); err != nil {
		return err
	}
	argv, env := e.commandLine(j)
	e.runs.Add(1)
	go e.runAttempt(j, r, argv, env, e.LogPath(group, stream))
	return nil
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

func (e *Engine) runAttempt(j *job, r *running, argv, env []string, logPath string) {
	defer e.runs.Done()
	end := e.execute(j, r, argv, env, logPath)
	e.lock()
	// Why it was stopped, as of now: a TerminateJob after the process
	// exited still makes the attempt a terminated one.
	end.terminated, end.stopReason = r.terminated, r.stopReason
	end.timedOut, end.hostLost = r.timedOut, r.hostLost
	if err := e.finishAttempt(j, end); err != nil {
		e.logBug(err)
	}
	e.unlock()
	e.poke()
}

// execute runs the attempt's process to its end and says how it ended
// (the exit code, or why it did not start).
//
// The process runs under its own context, which only stopLocked cancels
// (timeout, TerminateJob, Close; no request's context: a job outlives the
// request that submitted it). exec then calls termGroup (SIGTERM to the
// process group), and stopLocked has armed the SIGKILL after the grace on
// the engine's clock. WaitDelay is the same grace on the real clock: exec's
// own SIGKILL of the process, should the clock be a test's that is never
// advanced.
func (e *Engine) execute(j *job, r *running, argv, env []string, logPath string) attemptEnd {
	if len(argv) == 0 {
		return attemptEnd{startErr: errors.New("the job has no command")}
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return attemptEnd{startErr: err}
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return attemptEnd{startErr: err}
	}
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Cancel = func() error { e.termGroup(r); return nil }
	cmd.WaitDelay = e.cfg.KillGrace
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
		return attemptEnd{} // stopped before its process started: no exit code
	}
	err = cmd.Start()
	if err != nil {
		e.unlock()
		fmt.Fprintf(f, "CannotStartContainerError: %v\n", err)
		return attemptEnd{startErr: err}
	}
	pid := cmd.Process.Pid
	r.cancel = cancel
	r.signal = func(sig syscall.Signal) { _ = syscall.Kill(-pid, sig) }
	now := e.nowMS()
	j.rec.StartedAt = now
	a := &j.rec.Attempts[len(j.rec.Attempts)-1]
	a.StartedAt = now
	a.PID = pid
	a.PIDStart, _ = processStart(pid)
	e.armTimeout(r, attemptTimeout(j.spec))
	if err := e.setStatus(j, engine.StatusRunning); err != nil {
		e.logBug(err)
	}
	e.unlock()

	werr := cmd.Wait()
	e.lock()
	e.reapedLocked(r)
	e.unlock()
	code := exitCodeOf(cmd.ProcessState, werr)
	return attemptEnd{exitCode: &code}
}

// armTimeout stops the attempt once d has passed on the engine's clock
// (d 0: never; under the lock).
func (e *Engine) armTimeout(r *running, d time.Duration) {
	if d <= 0 {
		return
	}
	r.stopTimeout = e.cfg.Clock.AfterFunc(d, func() {
		e.lock()
		defer e.unlock()
		if !r.stopping && !r.exited {
			r.timedOut = true
			e.stopLocked(r)
		}
	})
}

// stopLocked asks the attempt's process to stop (under the lock): its
// context is cancelled, so that exec calls termGroup (SIGTERM to the
// process group), and SIGKILL follows after the grace on the engine's
// clock unless the process was reaped. Before the process started,
// execute sees the flags instead.
func (e *Engine) stopLocked(r *running) {
	if r.stopping || r.exited {
		return
	}
	r.stopping = true
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.stopKill = e.cfg.Clock.AfterFunc(e.cfg.KillGrace, func() {
		e.lock()
		defer e.unlock()
		if !r.exited {
			r.signal(syscall.SIGKILL)
		}
	})
}

// termGroup is the command's Cancel: SIGTERM to the process group unless
// it was reaped.
func (e *Engine) termGroup(r *running) {
	e.lock()
	defer e.unlock()
	if !r.exited {
		r.signal(syscall.SIGTERM)
	}
}

// reapedLocked records that the attempt's process was reaped: its timers
// are disarmed and, like a stopped task, what it left running in its
// process group is killed; never signalled again (under the lock).
func (e *Engine) reapedLocked(r *running) {
	r.signal(syscall.SIGKILL)
	r.exited = true
	for _, stop := range []func() bool{r.stopTimeout, r.stopKill} {
		if stop != nil {
			stop()
		}
	}
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

// finishAttempt records how an attempt ended and moves the job to the
// status decideAttempt gives (under the lock).
func (e *Engine) finishAttempt(j *job, end attemptEnd) error {
	j.run = nil
	e.release(j)
	a := j.lastAttempt()
	now := e.nowMS()
	if a.StartedAt == 0 {
		a.StartedAt = now
	}
	a.StoppedAt = now
	a.ExitCode = end.exitCode
	v := decideAttempt(j.spec, len(j.rec.Attempts), end)
	if v.reason != "" {
		a.Reason = v.reason
	}
	a.StatusReason = v.statusReason
	switch v.next {
	case engine.StatusSucceeded:
		j.rec.StatusReason = v.statusReason
		return e.setStatus(j, engine.StatusSucceeded)
	case engine.StatusRunnable:
		if err := engine.Transition(j.rec.Status, engine.StatusRunnable); err != nil {
			return fmt.Errorf("job %s: %w", j.rec.ID, err)
		}
		j.rec.StatusReason = v.statusReason
		if err := e.setStatus(j, engine.StatusRunnable); err != nil {
			return err
		}
		j.elem = e.runnable.PushBack(j)
		return nil
	}
	if err := engine.Transition(j.rec.Status, engine.StatusFailed); err != nil {
		return fmt.Errorf("job %s: %w", j.rec.ID, err)
	}
	if v.terminated {
		j.rec.IsTerminated = true
	}
	return e.fail(j, v.statusReason, false)
}

// settleLost ends the attempt of a job whose process was lost while the
// engine was down (under the lock).
func (e *Engine) settleLost(j *job) error {
	// The resources were never reserved in this process: balance release.
	e.reserve(j)
	if len(j.rec.Attempts) == 0 {
		j.rec.Attempts = append(j.rec.Attempts, attemptRecord{TaskID: newTaskID()})
	}
	return e.finishAttempt(j, attemptEnd{hostLost: true})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func itoa32(n int32) string { return strconv.Itoa(int(n)) }
