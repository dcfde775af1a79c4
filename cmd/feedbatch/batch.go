package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go/logging"
	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/cfn"
	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/store"
)

// Batch wiring: which Batch (and CloudWatch Logs) endpoint a command talks
// to. Both engines are driven through aws-sdk-go-v2's clients; only the
// endpoint and credentials differ.
const (
	// envBatchEndpoint points the Batch client at another endpoint (a local
	// engine started with `feedbatch engine serve`, a VPC endpoint).
	envBatchEndpoint = "FEEDBATCH_BATCH_ENDPOINT"
	// envLogsEndpoint points the CloudWatch Logs client elsewhere; default:
	// FEEDBATCH_BATCH_ENDPOINT when set (the local engine serves both).
	envLogsEndpoint = "FEEDBATCH_LOGS_ENDPOINT"
	// envEngineCredentials names a local engine's credentials file
	// (<engine dir>/credentials): the Batch and Logs clients of an endpoint
	// override sign with it instead of the standard credential chain (which
	// stays the store's).
	envEngineCredentials = "FEEDBATCH_ENGINE_CREDENTIALS"

	engineLocal = "local"
	engineAWS   = "aws"

	lockName     = "feedbatch.lock"
	endpointName = "endpoint"
)

// localPassEnv are the variables of the operator's environment that reach
// the local engine's children besides local.DefaultPassEnv: how this
// machine reaches its store and engine, which networks sources may be
// fetched from, and the log format. Everything else of the shell stays out
// (a container sees only its job definition's environment).
var localPassEnv = []string{
	envBatchEndpoint, envLogsEndpoint, envEngineCredentials, envS3Endpoint, envS3PathStyle,
	"FEEDBATCH_COLLECT_ALLOW_NETS", "FEEDBATCH_IMAGE_ALLOW_NETS", "FEEDBATCH_LOG_LEVEL", "FEEDBATCH_LOG_FORMAT",
}

var (
	engineFlag = &cli.StringFlag{
		Name:    "engine",
		Usage:   "local (an engine in this process, or the one serving FEEDBATCH_BATCH_ENDPOINT) or aws (AWS Batch, standard credential chain)",
		EnvVars: []string{"FEEDBATCH_ENGINE"},
		Value:   engineLocal,
	}
	engineDirFlag = &cli.StringFlag{
		Name:    "engine-dir",
		Usage:   "state directory of the local engine (default: <root dir>.engine beside a file:// root; for s3:// roots <user cache dir>/feedbatch/engines/<sha256(root)[:16]>)",
		EnvVars: []string{"FEEDBATCH_ENGINE_DIR"},
	}
	queueFlag = &cli.StringFlag{
		Name:    "queue",
		Usage:   "job queue name or ARN",
		EnvVars: []string{"FEEDBATCH_QUEUE"},
		Value:   cfn.QueueName,
	}
	vcpusFlag = &cli.IntFlag{
		Name:        "vcpus",
		Usage:       "vCPU budget of the local engine",
		DefaultText: "the machine's CPUs",
		EnvVars:     []string{"FEEDBATCH_VCPUS"},
		Action: func(_ *cli.Context, n int) error {
			if n < 0 {
				return usagef("--vcpus %d: must not be negative", n)
			}
			return nil
		},
	}
	memoryFlag = &cli.IntFlag{
		Name:        "memory-mib",
		Usage:       "memory budget of the local engine in MiB",
		DefaultText: "the machine's memory",
		EnvVars:     []string{"FEEDBATCH_MEMORY_MIB"},
		Action: func(_ *cli.Context, n int) error {
			if n < 0 {
				return usagef("--memory-mib %d: must not be negative", n)
			}
			return nil
		},
	}
	jobDefsFlag = &cli.StringSliceFlag{
		Name:    "job-definition",
		Usage:   "stage=job-definition (name, name:revision or ARN) overriding feedbatch-<stage>; repeatable",
		EnvVars: []string{"FEEDBATCH_JOB_DEFINITIONS"},
	}
)

// batchConn is a connection to one Batch engine.
type batchConn struct {
	kind  string // engineLocal or engineAWS
	queue string
	batch *batch.Client
	logs  *cloudwatchlogs.Client
	// engine is set when the local engine runs in this process.
	engine *local.Engine
	unlock func()
}

// Close stops an in-process engine (jobs still running are resumed by the
// next engine opened on the same directory).
func (c *batchConn) Close() error {
	var err error
	if c.engine != nil {
		err = c.engine.Close()
	}
	if c.unlock != nil {
		c.unlock()
	}
	return err
}

// retryOptions use the SDK's standard retryer (throttling, 5xx, transport)
// with more attempts: Batch allows 50 TPS per account.
func retryOptions(o *batch.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.MaxAttempts = 8
		so.MaxBackoff = 20 * time.Second
	})
}

// checkEndpoint refuses an endpoint override (env variable name) that is
// not an http(s) URL, before anything is planned or submitted.
func checkEndpoint(name, ep string) error {
	if ep == "" {
		return nil
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("%s=%q: want an http(s)://host:port URL", name, ep)
	}
	return nil
}

// connectAWS returns clients for AWS Batch and CloudWatch Logs with the
// standard credential chain; FEEDBATCH_BATCH_ENDPOINT and
// FEEDBATCH_LOGS_ENDPOINT override the endpoints.
func connectAWS(ctx context.Context, queue string) (*batchConn, error) {
	// The SDK's own messages ("falling back to IMDSv1") go to the log at
	// debug level, not as extra lines on stderr.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithLogger(logging.LoggerFunc(func(cls logging.Classification, format string, v ...any) {
		slog.Debug(fmt.Sprintf(format, v...), "source", "aws-sdk", "class", string(cls))
	})))
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	bep := os.Getenv(envBatchEndpoint)
	lep := cmp.Or(os.Getenv(envLogsEndpoint), bep)
	if f := os.Getenv(envEngineCredentials); f != "" {
		creds, err := local.LoadCredentials(filepath.Dir(f))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envEngineCredentials, err)
		}
		cfg.Credentials = creds
	}
	return &batchConn{
		kind:  engineAWS,
		queue: queue,
		batch: batch.NewFromConfig(cfg, retryOptions, func(o *batch.Options) {
			if bep != "" {
				o.BaseEndpoint = aws.String(bep)
			}
		}),
		logs: cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
			if lep != "" {
				o.BaseEndpoint = aws.String(lep)
			}
		}),
	}, nil
}

// localEngineDir is where the local engine keeps its state: --engine-dir,
// else a directory derived from the root alone, the same from any working
// directory (see engineDirFor). acc readOnly falls back to the directory of
// earlier versions, ./feedbatch-engine, when only that one exists.
func localEngineDir(c *cli.Context, acc access) (string, error) {
	return resolveEngineDir(c.String(engineDirFlag.Name), c.String(rootFlag.Name), acc)
}

// resolveEngineDir is localEngineDir for the flag values flagDir
// (--engine-dir) and root (--root).
func resolveEngineDir(flagDir, root string, acc access) (string, error) {
	if flagDir != "" {
		return filepath.Abs(flagDir)
	}
	root, err := absRoot(root)
	if err != nil {
		return "", err
	}
	dir, err := engineDirFor(root)
	if err != nil {
		return "", err
	}
	if acc == readOnly {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			if legacy, err := filepath.Abs(legacyEngineDir); err == nil {
				if fi, err := os.Stat(legacy); err == nil && fi.IsDir() {
					slog.Debug("reading the local engine directory of an earlier version", "dir", legacy)
					return legacy, nil
				}
			}
		}
	}
	return dir, nil
}

// legacyEngineDir is where earlier versions kept the engine of an s3://
// root, relative to the working directory; only read.
const legacyEngineDir = "feedbatch-engine"

// engineDirFor is the local engine's directory for the absolute root URL
// root: beside a file:// root (<dir>.engine: the store's key space stays the
// data's), and for an s3:// root one per root in the user's cache directory,
// <cache>/feedbatch/engines/<first 16 hex digits of sha256(root)>.
func engineDirFor(root string) (string, error) {
	if p, ok := strings.CutPrefix(root, "file://"); ok {
		return filepath.Clean(filepath.FromSlash(p)) + ".engine", nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("local engine directory of %s: %w (give --engine-dir)", root, err)
	}
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(cache, "feedbatch", "engines", hex.EncodeToString(sum[:])[:16]), nil
}

// connect opens the engine the command asks for. For the local engine:
// FEEDBATCH_BATCH_ENDPOINT if set; else the engine of another feedbatch
// process using the same directory; else an engine started in this process
// (start says whether that is allowed, with the root its job definitions
// pass on).
func connect(ctx context.Context, c *cli.Context, log *slog.Logger) (*batchConn, error) {
	return connectKind(ctx, c, c.String(engineFlag.Name), readWrite, log)
}

// access says whether a command may change jobs. Inspection commands
// (status, report, logs, rerun --dry-run) open the local engine readOnly:
// they ask a running engine, or read the engine's journal, and never start,
// resume, settle or kill a job.
type access bool

const (
	readWrite access = false
	readOnly  access = true
)

// connectRun connects to the engine run was submitted to: --engine (or
// FEEDBATCH_ENGINE) when given, else the engine its run.json names.
func connectRun(ctx context.Context, c *cli.Context, st store.Store, run string, acc access, log *slog.Logger) (*batchConn, error) {
	kind := c.String(engineFlag.Name)
	if !c.IsSet(engineFlag.Name) {
		if rec, err := planner.ReadRecord(ctx, st, planner.RecordKey(run)); err == nil && rec.Engine != "" {
			kind = rec.Engine
		}
	}
	return connectKind(ctx, c, kind, acc, log)
}

// runningEndpoint is the endpoint of the engine another feedbatch process
// runs on dir, if one answers there.
func runningEndpoint(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, endpointName))
	if err != nil {
		return ""
	}
	ep := strings.TrimSpace(string(b))
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return ""
	}
	conn, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return "" // left behind by a process that died
	}
	conn.Close()
	return ep
}

// connectLocalReadOnly asks the engine running on dir, or serves a
// read-only snapshot of its journal in this process (nothing created when
// dir does not exist).
func connectLocalReadOnly(ctx context.Context, dir, queue string, log *slog.Logger) (*batchConn, error) {
	if ep := runningEndpoint(dir); ep != "" {
		if creds, err := local.LoadCredentials(dir); err == nil {
			log.Debug("using the local engine of another process", "endpoint", ep)
			return localConn(queue, ep, creds, nil, nil), nil
		}
	}
	eng, ep, err := local.Start(ctx, local.Config{Dir: dir, ReadOnly: true, QueueName: queue, CEName: local.DefaultCEName, Logger: log.With("component", "engine")})
	if err != nil {
		return nil, err
	}
	log.Debug("local engine journal opened read-only", "dir", dir)
	return localConn(queue, ep, eng.Credentials(), eng, nil), nil
}

// localConn is a connection to the local engine at ep.
func localConn(queue, ep string, creds aws.CredentialsProvider, eng *local.Engine, unlock func()) *batchConn {
	return &batchConn{kind: engineLocal, queue: queue, batch: local.BatchClient(ep, creds, retryOptions), logs: local.LogsClient(ep, creds), engine: eng, unlock: unlock}
}

// checkEngine refuses an unknown engine kind or a malformed endpoint
// override before anything is claimed, planned or started.
func checkEngine(kind string) error {
	for _, name := range []string{envBatchEndpoint, envLogsEndpoint} {
		if err := checkEndpoint(name, os.Getenv(name)); err != nil {
			return err
		}
	}
	if kind != engineAWS && kind != engineLocal {
		return usagef("unknown engine %q (want local or aws)", kind)
	}
	return nil
}

func connectKind(ctx context.Context, c *cli.Context, kind string, acc access, log *slog.Logger) (*batchConn, error) {
	queue := c.String(queueFlag.Name)
	if err := checkEngine(kind); err != nil {
		return nil, err
	}
	if kind == engineAWS {
		return connectAWS(ctx, queue)
	}
	if ep := os.Getenv(envBatchEndpoint); ep != "" {
		// An engine served elsewhere (feedbatch engine serve): signed with
		// its credentials file, else the standard chain.
		conn, err := connectAWS(ctx, queue)
		if err != nil {
			return nil, err
		}
		conn.kind = engineLocal
		return conn, nil
	}
	dir, err := localEngineDir(c, acc)
	if err != nil {
		return nil, err
	}
	if acc == readOnly {
		return connectLocalReadOnly(ctx, dir, queue, log)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local engine: %w", err)
	}
	unlock, ep, err := lockOrJoin(ctx, dir)
	if err != nil {
		return nil, err
	}
	if ep != "" {
		creds, err := local.LoadCredentials(dir)
		if err != nil {
			return nil, err
		}
		log.Debug("using the local engine of another process", "endpoint", ep)
		return localConn(queue, ep, creds, nil, nil), nil
	}
	cfg := local.Config{
		Dir:       dir,
		VCPUs:     c.Int(vcpusFlag.Name),
		MemoryMiB: c.Int(memoryFlag.Name),
		QueueName: queue,
		CEName:    local.DefaultCEName,
		Logger:    log.With("component", "engine"),
		PassEnv:   localPassEnv,
	}
	eng, ep, err := local.Start(ctx, cfg)
	if err != nil {
		unlock()
		return nil, err
	}
	// Published with a rename: a process joining this engine reads the
	// whole endpoint or none.
	tmp := filepath.Join(dir, endpointName+".tmp")
	if err := errors.Join(os.WriteFile(tmp, []byte(ep+"\n"), 0o644), os.Rename(tmp, filepath.Join(dir, endpointName))); err != nil {
		eng.Close()
		unlock()
		return nil, fmt.Errorf("local engine: %w", err)
	}
	log.Debug("local engine started", "dir", dir, "endpoint", ep)
	// Children get these (localPassEnv): a planner job run by this engine
	// (FEEDBATCH_ENGINE=aws in its job definition) submits to it.
	restoreEP := setenv(envBatchEndpoint, ep)
	restoreCreds := setenv(envEngineCredentials, filepath.Join(dir, local.CredentialsName))
	restore := func() {
		restoreEP()
		restoreCreds()
		unlock()
	}
	return localConn(queue, ep, eng.Credentials(), eng, restore), nil
}

// setenv sets name and returns what restores its previous state.
func setenv(name, value string) func() {
	prev, had := os.LookupEnv(name)
	os.Setenv(name, value)
	return func() {
		if had {
			os.Setenv(name, prev)
		} else {
			os.Unsetenv(name)
		}
	}
}

var errLocked = errors.New("locked")

// endpointWait bounds how long a command waits for another process that
// holds the engine lock to publish its endpoint (an engine replays its
// journal before it serves).
const endpointWait = 30 * time.Second

// lockOrJoin takes the engine lock of dir (ep ""), or returns the endpoint
// of the process that holds it. A holder that is still starting its engine
// has not published its endpoint yet: lockOrJoin waits for it, and takes
// the lock itself if the holder exits meanwhile.
func lockOrJoin(ctx context.Context, dir string) (unlock func(), ep string, err error) {
	deadline := time.Now().Add(endpointWait)
	for {
		unlock, err := lockDir(dir)
		if !errors.Is(err, errLocked) {
			return unlock, "", err
		}
		// The holder writes the endpoint after it starts its engine and
		// removes it before it releases the lock.
		if b, err := os.ReadFile(filepath.Join(dir, endpointName)); err == nil {
			if ep := strings.TrimSpace(string(b)); ep != "" {
				return nil, ep, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, "", fmt.Errorf("local engine in %s is in use by another process that has served no endpoint for %s", dir, endpointWait)
		}
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lockDir takes an exclusive advisory lock on dir/feedbatch.lock, so that
// one process at a time runs the engine of a directory.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("local engine lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("local engine lock: %w", err)
	}
	// An endpoint left by a holder that was killed names a dead engine.
	os.Remove(filepath.Join(dir, endpointName))
	return func() {
		os.Remove(filepath.Join(dir, endpointName))
		f.Close()
	}, nil
}

// registerJobDefinitions registers the stage job definitions of
// cfn/template.yaml with the engine, with FEEDBATCH_ROOT set to root (so
// local and cloud job definitions cannot drift).
func registerJobDefinitions(ctx context.Context, api *batch.Client, root string, stages []string) error {
	defs, err := cfn.JobDefinitions()
	if err != nil {
		return fmt.Errorf("job definitions: %w", err)
	}
	have := map[string]bool{}
	for _, d := range defs {
		if _, err := api.RegisterJobDefinition(ctx, d.RegisterInput(map[string]string{"FEEDBATCH_ROOT": root})); err != nil {
			return fmt.Errorf("register job definition %s: %w", d.Name, err)
		}
		have[d.Name] = true
	}
	for _, s := range stages {
		if !have[planner.DefaultJobDefinition(s)] {
			return fmt.Errorf("cfn/template.yaml has no job definition %s for stage %s", planner.DefaultJobDefinition(s), s)
		}
	}
	return nil
}

// jobDefinitions parses --job-definition stage=name pairs.
func jobDefinitions(c *cli.Context) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range c.StringSlice(jobDefsFlag.Name) {
		for item := range strings.SplitSeq(kv, ",") {
			stage, def, ok := strings.Cut(strings.TrimSpace(item), "=")
			if !ok || stage == "" || def == "" {
				return nil, usagef("--job-definition %q: want stage=job-definition", item)
			}
			out[stage] = def
		}
	}
	return out, nil
}
