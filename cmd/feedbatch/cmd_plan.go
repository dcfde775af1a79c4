package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/internal/secret"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/store"
)

// loadRegistry reads the shop registry at src (a store key under the root,
// a file path or URL; "" is the bundled example shops) into manifest rows.
// Tests replace it.
var loadRegistry = func(ctx context.Context, src string, st store.Store) ([]manifest.Row, error) {
	return nil, errors.New("shop registry support is not built in")
}

var (
	registryFlag = &cli.StringFlag{
		Name:    "registry",
		Aliases: []string{"shops"},
		Usage:   "shop registry: a key under the root, a file, or a postgres:// URL (default: the bundled example shops)",
		EnvVars: []string{"FEEDBATCH_REGISTRY"},
	}
	runIDFlag = &cli.StringFlag{
		Name:    "run",
		Usage:   "run id (default: today's UTC date)",
		EnvVars: []string{"FEEDBATCH_RUN"},
	}
	replanFlag = &cli.BoolFlag{
		Name:    "force",
		Usage:   "plan and submit again even if the run id was already planned",
		EnvVars: []string{"FEEDBATCH_REPLAN"},
	}
)

func init() {
	register(&cli.Command{
		Name:  "plan",
		Usage: "the planner job: read the registry, write the manifest, submit one array job per stage, and exit",
		Description: "What the cloud planner job definition runs. Submits to AWS Batch (--engine aws, the default in\n" +
			"the job definition) or to the local engine serving FEEDBATCH_BATCH_ENDPOINT.",
		Flags:  []cli.Flag{engineFlag, engineDirFlag, queueFlag, registryFlag, runIDFlag, replanFlag, jobDefsFlag},
		Action: planAction,
	})
}

// claimFromFlags claims the run of the command's flags for jobs on engine
// kind (engineLocal or engineAWS) and queue, before any engine is started
// or joined: a command that does not own the run stops here.
func claimFromFlags(c *cli.Context, kind, queue string, log *slog.Logger) (*planner.Planning, store.Store, error) {
	ctx := c.Context
	root, err := absRoot(c.String(rootFlag.Name))
	if err != nil {
		return nil, nil, err
	}
	run := c.String(runIDFlag.Name)
	if run != "" {
		if err := planner.CheckRunID(run); err != nil {
			return nil, nil, usagef("--run: %v", err)
		}
	}
	defs, err := jobDefinitions(c)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, root)
	if err != nil {
		return nil, nil, err
	}
	rows, err := loadRegistry(ctx, c.String(registryFlag.Name), st)
	if err != nil {
		return nil, nil, err
	}
	// run.json is an artefact: the registry's DSN is recorded without its
	// password (a registry should name it: ${env:...}, see README).
	cfg := map[string]string{"registry": secret.Redact(registryRecord(c.String(registryFlag.Name)))}
	for s, d := range defs {
		cfg["job_definition."+s] = d
	}
	p, err := planner.Claim(ctx, st, planner.PlanInput{
		RunID:   run,
		Rows:    rows,
		Steps:   planner.Steps(all.Graph()),
		Target:  planner.Target{Queue: queue, JobDefinitions: defs, Root: root},
		Engine:  kind,
		Version: version,
		Config:  cfg,
		Replan:  c.Bool(replanFlag.Name),
		// A duplicate delivery racing this one: wait for it, then refuse or resume.
		WaitBusy: true,
		Log:      log,
	})
	return p, st, err
}

// registryRecord is the registry src as run.json records it, so that
// rerun --from-registry finds the same one from any directory: a local
// file (the example shops of a checkout when src is "") made absolute;
// anything else as given.
func registryRecord(src string) string {
	path := src
	if path == "" {
		path = exampleRegistry
	}
	if strings.Contains(path, "://") || strings.HasPrefix(path, "store:") {
		return src
	}
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		if abs, err := filepath.Abs(path); err == nil {
			return abs
		}
	}
	return src
}

func planAction(c *cli.Context) error {
	log := slog.Default()
	conn, err := connect(c.Context, c, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	if conn.engine != nil {
		return usagef("plan submits to a running engine: start `feedbatch engine serve` and set %s, or use `feedbatch run`", envBatchEndpoint)
	}
	start := time.Now()
	p, _, err := claimFromFlags(c, conn.kind, conn.queue, log)
	if err != nil {
		return err
	}
	rec, err := p.Submit(c.Context, conn.batch)
	if err != nil {
		submitHint(c, rec)
		return err
	}
	printPlanned(c, rec)
	log.Info("planned", "run", rec.RunID, "shops", rec.Shops, "jobs", len(rec.Jobs), "elapsed", time.Since(start))
	return nil
}

// printPlanned lists the submitted jobs.
func printPlanned(c *cli.Context, rec *planner.Record) {
	w := c.App.Writer
	fmt.Fprintf(w, "run %s: %d shops, manifest %s, %d jobs on queue %s (%s)\n", rec.RunID, rec.Shops, rec.Manifest, len(rec.Jobs), rec.Queue, rec.Engine)
	for _, j := range rec.Jobs {
		kind := fmt.Sprintf("array of %d, indexes %d-%d", j.Size, j.Offset, j.Offset+j.Size-1)
		if !j.Array() {
			kind = fmt.Sprintf("single job, index %d", j.Offset)
		}
		fmt.Fprintf(w, "  %-8s %-40s %s  %s\n", j.Stage, j.Name, j.JobID, kind)
	}
}
