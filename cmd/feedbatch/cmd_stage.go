package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/store"
)

// lookupStage finds a stage of the graph by name; tests replace it.
var lookupStage = all.Lookup

// unknownIndex is the index of a child that was given none (the Kubernetes
// indexed-job convention): always an error, never a row.
const unknownIndex = -1

func init() {
	register(&cli.Command{
		Name:      "stage",
		Usage:     "run one stage for one shop: the child entry point the job definitions run",
		ArgsUsage: "<" + strings.Join(all.Names(), "|") + ">",
		Description: "Reads the manifest row of its index and runs the stage, then writes the result record\n" +
			"runs/<run>/.../results/<stage>/<index>.json. The index is AWS_BATCH_JOB_ARRAY_INDEX plus\n" +
			"FEEDBATCH_INDEX_OFFSET for array children, or FEEDBATCH_INDEX (--index) for a single job.\n" +
			"Exit status: 0 done, 75 failed but worth retrying (also when stopped by SIGTERM or SIGINT),\n" +
			"65 failed for good, 2 usage error.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "manifest", Usage: "the manifest's key under --root (runs/<run>/manifest.parquet)", EnvVars: []string{stages.EnvManifest}},
			&cli.StringFlag{Name: "index", Usage: "the shop's index, for a single (non-array) job", EnvVars: []string{stages.EnvIndex}},
			&cli.BoolFlag{Name: "force", Usage: "bypass the stage's safety guards (e.g. the feed drop guard)", EnvVars: []string{stages.EnvForce}},
		},
		Action: stageAction,
	})
}

// childIndex works out a child's manifest index: an explicit index (the
// --index flag or FEEDBATCH_INDEX) wins; otherwise AWS_BATCH_JOB_ARRAY_INDEX
// plus FEEDBATCH_INDEX_OFFSET. Missing, negative or garbled values give
// unknownIndex and a usage error.
func childIndex(explicit string, getenv func(string) string) (int64, error) {
	parse := func(name, v string) (int64, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return unknownIndex, usagef("%s=%q: want a number >= 0", name, v)
		}
		return n, nil
	}
	if explicit != "" {
		return parse(stages.EnvIndex+" (--index)", explicit)
	}
	arr := getenv(stages.EnvArrayIndex)
	if arr == "" {
		return unknownIndex, usagef("no index: %s is not set (array child) and neither is %s (single job)", stages.EnvArrayIndex, stages.EnvIndex)
	}
	i, err := parse(stages.EnvArrayIndex, arr)
	if err != nil {
		return unknownIndex, err
	}
	var off int64
	if v := getenv(stages.EnvIndexOffset); v != "" {
		if off, err = parse(stages.EnvIndexOffset, v); err != nil {
			return unknownIndex, err
		}
	}
	return i + off, nil
}

// attempt is AWS_BATCH_JOB_ATTEMPT, 1 when unset or garbled.
func attempt(getenv func(string) string) int {
	n, err := strconv.Atoi(getenv(stages.EnvAttempt))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// stageAction runs the stage. A child told to stop (SIGTERM: Spot reclaim,
// scale-in) fails as a stage failure carrying context.Canceled however far
// it got and whatever the cut-short step made of the interruption: exit 75,
// retried, where an interactive command would exit 130.
func stageAction(c *cli.Context) error {
	err := runStage(c)
	var ue usageError
	if err == nil || errors.As(err, &ue) || c.Context.Err() == nil {
		return err
	}
	if !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w (interrupted: %w)", err, c.Context.Err())
	}
	var se stageError
	if !errors.As(err, &se) {
		err = stageError{err}
	}
	return err
}

func runStage(c *cli.Context) error {
	ctx := c.Context
	pos, err := interspersed(c)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one stage name (%s), got %d argument(s)", strings.Join(all.Names(), ", "), len(pos))
	}
	name := pos[0]
	node, ok := lookupStage(name)
	if !ok {
		return usagef("unknown stage %q (want %s)", name, strings.Join(all.Names(), ", "))
	}
	key := c.String("manifest")
	if key == "" {
		return usagef("no manifest: set %s or --manifest", stages.EnvManifest)
	}
	if err := store.CheckKey(key); err != nil {
		return usagef("%s=%q: %v", stages.EnvManifest, key, err)
	}
	index, err := childIndex(c.String("index"), os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(c).With("stage", name, "index", index)
	if id := os.Getenv(stages.EnvJobID); id != "" {
		log = log.With("job_id", id)
	}
	st, err := openStore(ctx, c.String(rootFlag.Name))
	if err != nil {
		return err
	}
	row, meta, err := manifest.Lookup(ctx, st, key, index)
	if err != nil {
		err = fmt.Errorf("stage %s index %d: manifest %s: %w", name, index, key, err)
		// A missing manifest, a bad file or an index past its end will not
		// fix themselves; a read that failed on the way may.
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, manifest.ErrIndexOutOfRange) || errors.Is(err, manifest.ErrInvalid) {
			err = stages.Permanent(err)
		}
		log.Error("stage failed", "err", err, "permanent", errors.Is(err, stages.ErrPermanent))
		return stageError{err}
	}
	runID := meta.RunID
	if meta.OriginRun != "" {
		runID = meta.OriginRun
	}
	log = log.With("shop", row.ShopID, "run", runID)
	job := stages.Job{
		RunID:       runID,
		ManifestKey: key,
		Row:         row,
		Store:       st,
		Log:         log,
		Attempt:     attempt(os.Getenv),
		Force:       c.Bool("force"),
		JobID:       os.Getenv(stages.EnvJobID),
	}
	// The row's options, parsed once against every declaration; the
	// registry refused bad ones at plan time, so this fails only for a
	// manifest written otherwise, and is recorded like any failure.
	stage := node.Stage
	cfg, cerr := all.Options().Parse(row.Options)
	job.Config = cfg
	if cerr != nil {
		stage = stages.Refused(stage, stages.Permanent(fmt.Errorf("options: %w", cerr)))
	}
	log.Info("stage start", "attempt", job.Attempt, "rerun", meta.Rerun, "origin_index", row.OriginIndex)
	res, err := stages.Execute(ctx, stage, job)
	if err != nil {
		log.Error("stage failed", "err", err, "permanent", errors.Is(err, stages.ErrPermanent), "duration_ms", res.DurationMS)
		return stageError{err}
	}
	log.Info("stage done", "items_in", res.ItemsIn, "items_out", res.ItemsOut, "bytes", res.Bytes,
		"unchanged", res.Unchanged, "duration_ms", res.DurationMS)
	return nil
}
