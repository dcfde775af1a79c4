package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/engine/local"
)

// `feedbatch engine serve`: the local AWS-Batch-compatible engine as a
// server, for the AWS CLI, boto3, other processes and `feedbatch run`
// (which finds it through the engine directory's endpoint file).
func init() {
	register(&cli.Command{
		Name:  "engine",
		Usage: "the local AWS-Batch-compatible engine",
		Subcommands: []*cli.Command{{
			Name:  "serve",
			Usage: "serve the AWS Batch API (and CloudWatch Logs GetLogEvents) on loopback, running jobs as local processes",
			Description: `Jobs run as local processes of their job definition's container command;
a command whose first word is feedbatch (any directory) runs this binary.
Every request must be signed (AWS SigV4) with the credentials the engine generates in
<dir>/credentials (mode 0600, an AWS shared credentials file, profile feedbatch-local);
requests from a browser (an Origin header) or to a non-loopback Host are refused.
Point clients at the printed endpoint:
  export AWS_SHARED_CREDENTIALS_FILE=<dir>/credentials AWS_PROFILE=feedbatch-local
  aws batch describe-job-queues --endpoint-url URL
  FEEDBATCH_BATCH_ENDPOINT=URL FEEDBATCH_ENGINE_CREDENTIALS=<dir>/credentials feedbatch run ...`,
			Flags: []cli.Flag{
				&cli.StringFlag{
					Name:    "addr",
					Usage:   "listen address (loopback only unless --allow-remote)",
					EnvVars: []string{"FEEDBATCH_ENGINE_ADDR"},
					Value:   "127.0.0.1:4566",
				},
				&cli.StringFlag{
					Name:        "dir",
					Usage:       "state directory: job table, job definitions, logs",
					DefaultText: "the one feedbatch run uses for --root",
					EnvVars:     []string{"FEEDBATCH_ENGINE_DIR"},
				},
				&cli.IntFlag{
					Name:        "vcpus",
					Usage:       "vCPU budget",
					DefaultText: "the machine's CPUs",
					EnvVars:     []string{"FEEDBATCH_ENGINE_VCPUS", "FEEDBATCH_VCPUS"},
				},
				&cli.IntFlag{
					Name:        "memory",
					Usage:       "memory budget in MiB",
					DefaultText: "the machine's memory",
					EnvVars:     []string{"FEEDBATCH_ENGINE_MEMORY", "FEEDBATCH_MEMORY_MIB"},
				},
				&cli.StringFlag{
					Name:    "queue",
					Usage:   "name of the engine's one job queue",
					EnvVars: []string{"FEEDBATCH_ENGINE_QUEUE", "FEEDBATCH_QUEUE"},
					Value:   local.DefaultQueueName,
				},
				&cli.StringFlag{
					Name:    "compute-environment",
					Usage:   "name of the engine's one compute environment (AWS_BATCH_CE_NAME)",
					EnvVars: []string{"FEEDBATCH_ENGINE_CE"},
					Value:   local.DefaultCEName,
				},
				&cli.BoolFlag{
					Name:    "job-definitions",
					Usage:   "register the job definitions of cfn/template.yaml at start (FEEDBATCH_ROOT = --root)",
					EnvVars: []string{"FEEDBATCH_ENGINE_JOB_DEFINITIONS"},
					Value:   true,
				},
				&cli.BoolFlag{
					Name:    "allow-remote",
					Usage:   "allow a non-loopback listen address (requests are still signed with the engine's credentials, but travel unencrypted)",
					EnvVars: []string{"FEEDBATCH_ENGINE_ALLOW_REMOTE"},
				},
			},
			Action: engineServe,
		}},
	})
}

func engineServe(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("engine serve takes no arguments")
	}
	addr := c.String("addr")
	if err := checkLoopback(addr, c.Bool("allow-remote")); err != nil {
		return err
	}
	if c.Int("vcpus") < 0 || c.Int("memory") < 0 {
		return usagef("--vcpus and --memory must not be negative")
	}
	dir := c.String("dir")
	if dir == "" {
		d, err := localEngineDir(c, readWrite)
		if err != nil {
			return err
		}
		dir = d
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("engine dir: %w", err)
	}
	unlock, err := lockDir(dir)
	if errors.Is(err, errLocked) {
		return fmt.Errorf("engine dir %s is in use by another feedbatch process", dir)
	}
	if err != nil {
		return err
	}
	defer unlock()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("listen on %s: %v", addr, err)
	}
	ctx := c.Context
	log := newLogger(c).With("component", "engine")
	eng, err := local.Open(ctx, local.Config{
		Dir:       dir,
		VCPUs:     c.Int("vcpus"),
		MemoryMiB: c.Int("memory"),
		QueueName: c.String("queue"),
		CEName:    c.String("compute-environment"),
		Logger:    log,
		PassEnv:   localPassEnv,
		// Requests still need the engine's signature; a remote client
		// names the machine's address as its Host.
		AllowRemote: c.Bool("allow-remote"),
	})
	if err != nil {
		ln.Close()
		return err
	}
	endpoint := "http://" + ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- eng.Serve(ctx, ln) }()
	if c.Bool("job-definitions") {
		root, err := absRoot(c.String(rootFlag.Name))
		if err == nil {
			err = registerJobDefinitions(ctx, local.BatchClient(endpoint, eng.Credentials()), root, nil)
		}
		if err != nil {
			log.Warn("job definitions of the template not registered", "err", err)
		}
	}
	// Published once ready: `feedbatch run` on this directory uses it.
	if err := os.WriteFile(filepath.Join(dir, endpointName), []byte(endpoint+"\n"), 0o644); err != nil {
		ln.Close()
		<-served
		eng.Close()
		return fmt.Errorf("engine dir: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "%s\n", endpoint)
	fmt.Fprintf(c.App.ErrWriter, "requests must be signed with the engine's credentials:\n  export AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=%s\n  aws batch describe-job-queues --endpoint-url %s\n",
		filepath.Join(dir, local.CredentialsName), local.CredentialsProfile, endpoint)
	log.Info("serving the AWS Batch API", "endpoint", endpoint, "queue", c.String("queue"), "dir", dir)
	serveErr := <-served
	log.Info("stopping: running jobs are terminated and resumed by the next engine on this directory")
	if err := eng.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// checkLoopback refuses a listen address that is not on loopback, unless
// allowed: the engine runs whatever commands its clients submit.
func checkLoopback(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--addr %q: %v", addr, err)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return usagef("--addr %s is not a loopback address; the engine runs any submitted command, pass --allow-remote to serve it anyway", addr)
}
