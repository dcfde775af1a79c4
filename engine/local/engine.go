package local

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/feedbatch/feedbatch/engine"
)

// Defaults of Config.
const (
	DefaultQueueName = "feedbatch"
	DefaultCEName    = "local"
	// DefaultKillGrace is the time between SIGTERM and SIGKILL when a job
	// times out or is terminated (AWS Batch: 30 s).
	DefaultKillGrace = 30 * time.Second
	// DefaultMinTimeoutSeconds is the smallest attemptDurationSeconds AWS
	// Batch accepts.
	DefaultMinTimeoutSeconds = 60
)

// Region and account the engine puts into ARNs.
const (
	region    = "us-east-1"
	accountID = "000000000000"
)

// Config configures an Engine. The zero value of every field is replaced by
// its default.
type Config struct {
	// Dir holds the job table, the job definitions and the logs. Required.
	// One engine at a time uses a directory (Open takes a lock).
	Dir string
	// VCPUs is the compute environment's vCPU budget (default runtime.NumCPU()).
	VCPUs int
	// MemoryMiB is the compute environment's memory budget (default: the
	// machine's memory).
	MemoryMiB int
	// QueueName is the one job queue's name (default "feedbatch").
	QueueName string
	// CEName is the one compute environment's name (default "local").
	CEName string
	// Self replaces a command whose first word's base name is "feedbatch"
	// (default os.Executable()), so that the job definitions written for the
	// container image run the current binary locally.
	Self string
	// Logger receives the engine's logs (default: discard).
	Logger *slog.Logger
	// Clock is the engine's time: timestamps, attempt timeouts and the kill
	// grace (default: the time package's).
	Clock Clock
	// KillGrace is the time between SIGTERM and SIGKILL, on Clock (default
	// 30 s, the AWS value). Tests may shorten it.
	KillGrace time.Duration
	// MinTimeoutSeconds is the smallest timeout.attemptDurationSeconds
	// accepted (default 60, the AWS value). For tests only: a conformance run
	// cannot wait a minute per timeout case.
	MinTimeoutSeconds int32
	// ReadOnly opens a snapshot of the directory's jobs for inspection: no
	// lock, no scheduler, nothing created, settled or written; jobs that were
	// STARTING or RUNNING are described as the journal left them, and every
	// operation that would change something (SubmitJob, CancelJob,
	// TerminateJob, (De)RegisterJobDefinition) is refused. A missing
	// directory is an engine without jobs.
	ReadOnly bool
	// AllowRemote accepts requests whose Host is not a loopback name (the
	// engine serves a non-loopback address). Signatures are checked all the
	// same.
	AllowRemote bool
	// PassEnv names the variables of the engine's own environment that
	// reach a child besides DefaultPassEnv (a container sees only its job
	// definition's environment; see DIFFERENCES.md).
	PassEnv []string
}

func (c *Config) setDefaults() error {
	if c.Dir == "" {
		return errors.New("local engine: Config.Dir is required")
	}
	if c.VCPUs <= 0 {
		c.VCPUs = runtime.NumCPU()
	}
	if c.MemoryMiB <= 0 {
		c.MemoryMiB = machineMemoryMiB()
	}
	if c.QueueName == "" {
		c.QueueName = DefaultQueueName
	}
	if c.CEName == "" {
		c.CEName = DefaultCEName
	}
	if c.Self == "" {
		if exe, err := os.Executable(); err == nil {
			c.Self = exe
		} else {
			c.Self = "feedbatch"
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.KillGrace <= 0 {
		c.KillGrace = DefaultKillGrace
	}
	if c.MinTimeoutSeconds <= 0 {
		c.MinTimeoutSeconds = DefaultMinTimeoutSeconds
	}
	return nil
}

// machineMemoryMiB reads MemTotal from /proc/meminfo (4096 if unknown).
func machineMemoryMiB() int {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 4096
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if kb, err := strconv.Atoi(f[0]); err == nil && kb > 0 {
					return kb / 1024
				}
			}
		}
	}
	return 4096
}

// Engine is a local AWS Batch: one job queue, one compute environment of
// Config.VCPUs and Config.MemoryMiB, jobs run as local processes. It is safe
// for concurrent use.
type Engine struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	jobs     map[string]*job // every job by id, children included
	top      []*job          // plain jobs and array parents, in submission order
	defs     map[string][]*jobDefinition
	runnable *list.List // of *job, FIFO by the time they became RUNNABLE
	todo     []*job     // jobs whose dependencies must be (re)evaluated
	freeCPU  int64      // milli-vCPUs
	freeMem  int64      // MiB
	seq      int64
	closing  bool
	dirLock  *os.File // flock on Dir/engine.lock: one engine per directory
	journal  *os.File
	jw       *bufio.Writer
	jerr     error // first journal write error
	jbytes   int64 // journal size
	jlimit   int64 // compact when the journal grows past this

	kick    chan struct{}
	stopped chan struct{}
	runs    sync.WaitGroup // attempt goroutines

	srvMu   sync.Mutex
	servers []*http.Server

	closeOnce sync.Once
	closeErr  error

	creds aws.Credentials // what requests must be signed with
}

// ErrDirInUse is returned (wrapped) by Open when another engine has the
// directory open. Check with errors.Is.
var ErrDirInUse = errors.New("local engine: directory in use by another engine")

const (
	lockName    = "engine.lock"
	journalName = "jobs.journal"
	defsName    = "jobdefs.json"
	logsDir     = "logs"
)

// Open opens (or creates) the engine whose state lives in cfg.Dir and starts
// its scheduler. Finished jobs of an earlier run are described as they were;
// jobs that were STARTING or RUNNING when the engine stopped lost their
// process: that attempt ends with statusReason "Host EC2 (instance local)
// terminated." and the job is retried if its retry strategy allows, else it
// fails with that reason (see DIFFERENCES.md). Waiting jobs go on waiting.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if cfg.ReadOnly {
		return openReadOnly(ctx, cfg)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, logsDir), 0o755); err != nil {
		return nil, fmt.Errorf("local engine: %w", err)
	}
	e := newEngine(cfg)
	creds, err := loadOrCreateCredentials(cfg.Dir)
	if err != nil {
		return nil, err
	}
	e.creds = creds
	lock, err := os.OpenFile(filepath.Join(cfg.Dir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("local engine: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("local engine: %s: %w", cfg.Dir, ErrDirInUse)
		}
		return nil, fmt.Errorf("local engine: lock %s: %w", cfg.Dir, err)
	}
	e.dirLock = lock
	if err := e.loadDefs(); err != nil {
		lock.Close()
		return nil, err
	}
	if err := e.replay(ctx); err != nil {
		lock.Close()
		return nil, err
	}
	go e.scheduler()
	e.poke()
	return e, nil
}

func newEngine(cfg Config) *Engine {
	return &Engine{
		cfg:      cfg,
		log:      cfg.Logger,
		jobs:     make(map[string]*job),
		defs:     make(map[string][]*jobDefinition),
		runnable: list.New(),
		freeCPU:  int64(cfg.VCPUs) * 1000,
		freeMem:  int64(cfg.MemoryMiB),
		kick:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
	}
}

// openReadOnly loads the job table as the journal has it (see
// Config.ReadOnly). Another engine may be appending to or compacting the
// journal meanwhile: a compaction renames a complete new file over it, and
// a torn last line is ignored, so the snapshot is always one the journal
// held.
func openReadOnly(ctx context.Context, cfg Config) (*Engine, error) {
	e := newEngine(cfg)
	creds, err := readCredentials(filepath.Join(cfg.Dir, CredentialsName))
	if err != nil {
		creds = newCredentials() // nothing on disk: for this process's own client only
	}
	e.creds = creds
	if err := e.loadDefs(); err != nil {
		return nil, err
	}
	recs, order, err := readJournal(filepath.Join(cfg.Dir, journalName))
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.load(recs, order)
	return e, nil
}

// Start opens an engine and serves it on a free loopback port in the
// background until ctx is done or Close is called; the caller must Close it
// (jobs keep running after ctx is done). endpoint is the base URL for the
// SDK's BaseEndpoint ("http://127.0.0.1:PORT"); BatchClient and LogsClient
// make clients for it.
func Start(ctx context.Context, cfg Config) (eng *Engine, endpoint string, err error) {
	e, err := Open(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.Close()
		return nil, "", fmt.Errorf("local engine: listen: %w", err)
	}
	go func() {
		if err := e.Serve(ctx, ln); err != nil {
			e.log.Error("serve", "err", err)
		}
	}()
	return e, "http://" + ln.Addr().String(), nil
}

// Serve serves the Batch API (and CloudWatch Logs GetLogEvents) on ln until
// ctx is done or Close is called. It returns nil then.
func (e *Engine) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}
	e.srvMu.Lock()
	if e.isClosing() {
		e.srvMu.Unlock()
		ln.Close()
		return nil
	}
	e.servers = append(e.servers, srv)
	e.srvMu.Unlock()
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (e *Engine) isClosing() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closing
}

// Close stops serving and scheduling. Running processes are terminated
// (SIGTERM, then SIGKILL after KillGrace) and their attempts recorded as
// lost hosts, exactly as Open records processes lost in a crash: each such
// job is put back to RUNNABLE if its retry strategy allows, else FAILED. A
// later Open with the same Dir resumes the rest.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		if e.cfg.ReadOnly {
			e.mu.Lock()
			e.closing = true
			e.mu.Unlock()
			e.closeServers()
			return
		}
		e.mu.Lock()
		e.closing = true
		for _, j := range e.jobs {
			if j.run != nil {
				j.run.hostLost = true
				e.stopLocked(j.run)
			}
		}
		e.mu.Unlock()
		e.closeServers()
		close(e.stopped)
		e.runs.Wait()
		e.mu.Lock()
		if err := e.jw.Flush(); err != nil && e.jerr == nil {
			e.jerr = err
		}
		if err := e.journal.Sync(); err != nil && e.jerr == nil {
			e.jerr = err
		}
		if err := e.journal.Close(); err != nil && e.jerr == nil {
			e.jerr = err
		}
		e.closeErr = e.jerr
		e.dirLock.Close() // releases the flock
		e.mu.Unlock()
	})
	return e.closeErr
}

func (e *Engine) closeServers() {
	e.srvMu.Lock()
	for _, s := range e.servers {
		s.Close()
	}
	e.srvMu.Unlock()
}

// lock and unlock guard the engine state; unlock flushes the journal lines
// written under the lock.
func (e *Engine) lock() { e.mu.Lock() }

func (e *Engine) unlock() {
	if e.jw != nil && e.jw.Buffered() > 0 {
		if err := e.jw.Flush(); err != nil && e.jerr == nil {
			e.jerr = err
			e.log.Error("journal write", "err", err)
		}
	}
	e.mu.Unlock()
}

// persist appends j's record to the journal (under the lock).
func (e *Engine) persist(j *job) {
	if e.jw == nil {
		return
	}
	b, err := json.Marshal(&j.rec)
	if err != nil {
		e.log.Error("journal encode", "job", j.rec.ID, "err", err)
		return
	}
	b = append(b, '\n')
	e.jbytes += int64(len(b))
	if _, err := e.jw.Write(b); err != nil && e.jerr == nil {
		e.jerr = err
		e.log.Error("journal write", "err", err)
	}
}

// loadDefs reads the registered job definitions.
func (e *Engine) loadDefs() error {
	b, err := os.ReadFile(filepath.Join(e.cfg.Dir, defsName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local engine: %w", err)
	}
	var defs []*jobDefinition
	if err := json.Unmarshal(b, &defs); err != nil {
		return fmt.Errorf("local engine: %s: %w", defsName, err)
	}
	for _, d := range defs {
		if len(d.ContainerProperties) > 0 {
			if err := json.Unmarshal(d.ContainerProperties, &d.props); err != nil {
				return fmt.Errorf("local engine: %s: %s: %w", defsName, d.JobDefinitionArn, err)
			}
		}
		e.defs[d.JobDefinitionName] = append(e.defs[d.JobDefinitionName], d)
	}
	return nil
}

// saveDefs writes every job definition atomically (under the lock).
func (e *Engine) saveDefs() error {
	var all []*jobDefinition
	for _, name := range sortedKeys(e.defs) {
		all = append(all, e.defs[name]...)
	}
	b, err := json.MarshalIndent(all, "", " ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(e.cfg.Dir, defsName), b)
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// replay rebuilds the job table from the journal, settles jobs whose
// process was lost, and rewrites the journal compactly.
func (e *Engine) replay(ctx context.Context) error {
	path := filepath.Join(e.cfg.Dir, journalName)
	recs, order, err := readJournal(path)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	e.load(recs, order)
	// Settle what the journal left mid-flight.
	var lost []*job
	for _, p := range e.top {
		if p.isParent() && p.rec.Status == engine.StatusSubmitted {
			e.todo = append(e.todo, p)
		}
		for _, j := range p.units() {
			switch j.rec.Status {
			case engine.StatusSubmitted, engine.StatusPending:
				e.todo = append(e.todo, j)
			case engine.StatusRunnable:
				j.elem = e.runnable.PushBack(j)
			case engine.StatusStarting, engine.StatusRunning:
				lost = append(lost, j)
			}
		}
	}
	// A process of a crashed engine normally died with it (parent-death
	// signal); one that did not is killed before its job is settled, so an
	// attempt is never retried while it still runs.
	for _, j := range lost {
		if len(j.rec.Attempts) > 0 {
			a := j.lastAttempt()
			if killOrphan(a.PID, a.PIDStart) {
				e.log.Warn("killed a process left running by an earlier engine", "job", j.rec.ID, "pid", a.PID)
			}
		}
	}
	f, err := e.compact(path)
	if err != nil {
		return err
	}
	e.setJournal(f)
	e.lock()
	defer e.unlock()
	for _, j := range lost {
		if err := e.settleLost(j); err != nil {
			e.logBug(err)
		}
	}
	for _, p := range e.top {
		if p.isParent() {
			if err := e.updateParent(p); err != nil {
				e.logBug(err)
			}
		}
	}
	return nil
}

// load builds the job table from journal records: top-level jobs first
// (they carry the spec), then children; parents' counts are recomputed.
func (e *Engine) load(recs map[string]*jobRecord, order []string) {
	for _, id := range order {
		r := recs[id]
		if r.Spec == nil {
			continue
		}
		j := &job{rec: *r, spec: r.Spec, index: -1}
		e.addTop(j)
	}
	for _, id := range order {
		r := recs[id]
		if r.Spec != nil {
			continue
		}
		c, ok := e.jobs[id]
		if !ok || c.parent == nil {
			e.log.Warn("journal: record of unknown job ignored", "job", id)
			continue
		}
		c.rec = *r
	}
	now := e.nowMS()
	for _, p := range e.top {
		e.link(p)
	}
	for _, p := range e.top {
		if p.isParent() {
			p.counts = [7]int32{}
			for _, c := range p.children {
				p.counts[statusIndex(c.rec.Status)]++
			}
			p.summaryAt = now
		}
	}
}

// minCompact is the smallest journal size that triggers a compaction.
const minCompact = 64 << 20

func (e *Engine) setJournal(f *os.File) {
	e.journal = f
	e.jw = bufio.NewWriterSize(f, 64<<10)
	e.jbytes = 0
	if st, err := f.Stat(); err == nil {
		e.jbytes = st.Size()
	}
	e.jlimit = max(minCompact, 4*e.jbytes)
}

// maybeCompact rewrites the journal once it has grown to several times
// its live size (under the lock).
func (e *Engine) maybeCompact() {
	if e.jbytes < e.jlimit || e.jerr != nil {
		return
	}
	if err := e.jw.Flush(); err != nil {
		e.jerr = err
		return
	}
	f, err := e.compact(filepath.Join(e.cfg.Dir, journalName))
	if err != nil {
		e.log.Error("journal compaction", "err", err)
		e.jlimit *= 2
		return
	}
	old := e.journal
	e.setJournal(f)
	if err := old.Close(); err != nil {
		e.log.Warn("journal close", "err", err)
	}
}

func readJournal(path string) (map[string]*jobRecord, []string, error) {
	recs := make(map[string]*jobRecord)
	var order []string
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return recs, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("local engine: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var r jobRecord
			if jerr := json.Unmarshal(bytes.TrimSpace(line), &r); jerr != nil || r.ID == "" {
				return nil, nil, fmt.Errorf("local engine: %s line %d: bad record", journalName, lineNo)
			}
			if _, seen := recs[r.ID]; !seen {
				order = append(order, r.ID)
			}
			recs[r.ID] = &r
		}
		// A last line without its newline is a torn write: ignored.
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("local engine: %w", err)
		}
	}
	return recs, order, nil
}

// compact writes the live records to a new journal, replaces the old one
// and returns it open for appending.
func (e *Engine) compact(path string) (*os.File, error) {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("local engine: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	for _, p := range e.top {
		if err := enc.Encode(&p.rec); err != nil {
			f.Close()
			return nil, fmt.Errorf("local engine: %w", err)
		}
		for _, c := range p.children {
			if c.implicit(p) {
				continue
			}
			if err := enc.Encode(&c.rec); err != nil {
				f.Close()
				return nil, fmt.Errorf("local engine: %w", err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("local engine: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("local engine: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return nil, fmt.Errorf("local engine: %w", err)
	}
	return f, nil
}

func (e *Engine) nowMS() int64 { return e.cfg.Clock.Now().UnixMilli() }

// poke wakes the scheduler.
func (e *Engine) poke() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}
