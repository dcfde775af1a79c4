package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/runs"
)

// cancelReason is the statusReason of the jobs feedbatch cancel stops.
// It starts with runs.ReasonCancelledPrefix, so the run model counts those
// shops as cancelled, not failed.
const cancelReason = runs.ReasonCancelledPrefix + " by feedbatch cancel"

func init() {
	register(&cli.Command{
		Name:      "cancel",
		Usage:     "terminate a run's jobs (and its re-runs'), or only some shops' (--index, --shop)",
		ArgsUsage: "<run>",
		Description: "Like aws batch terminate-job: waiting children fail at once, running ones are stopped\n" +
			"(SIGTERM, then SIGKILL) and fail with \"" + cancelReason + "\"; stages waiting for them fail as\n" +
			"skipped. Finished jobs are left alone. Re-run the shops later with feedbatch rerun.",
		Flags: []cli.Flag{
			engineFlag, engineDirFlag, queueFlag, vcpusFlag, memoryFlag,
			&cli.StringFlag{Name: "index", Usage: "only these daily-run indexes (17,40-45)", EnvVars: []string{"FEEDBATCH_CANCEL_INDEX"}},
			&cli.StringFlag{Name: "shop", Usage: "only these shop ids (comma-separated)", EnvVars: []string{"FEEDBATCH_CANCEL_SHOP"}},
		},
		Action: cancelAction,
	})
}

func cancelAction(c *cli.Context) error {
	ctx := c.Context
	log := slog.Default()
	run, err := runArg(c)
	if err != nil {
		return err
	}
	indexes, shops, err := selection(c)
	if err != nil {
		return err
	}
	st, err := openStoreFor(ctx, c.String(rootFlag.Name), readOnly) // the run exists: create no root
	if err != nil {
		return err
	}
	origin, err := planner.ReadRecord(ctx, st, planner.RecordKey(run))
	if err != nil {
		return err
	}
	conn, err := connectRun(ctx, c, st, run, readWrite, log)
	if err != nil {
		return err
	}
	defer conn.Close()

	// The jobs to stop: the chosen shops' unfinished children, or every
	// job of the run and its re-runs (a parent stops its children).
	var ids []string
	if len(indexes) > 0 || len(shops) > 0 {
		s, err := planner.ReadStatus(ctx, st, conn.batch, planner.StatusInput{Run: run, Indexes: indexes, ShopIDs: shops, Log: log})
		if err != nil {
			return err
		}
		for _, sh := range s.Shops {
			for _, name := range s.Stages {
				if o := sh.Stages[name].Latest; o.JobID != "" && !o.Terminal() {
					ids = append(ids, o.JobID)
				}
			}
		}
	} else {
		reruns, err := planner.Reruns(ctx, st, run)
		if err != nil {
			return err
		}
		var all []string
		for _, rec := range append([]*planner.Record{origin}, reruns...) {
			for _, j := range rec.Jobs {
				if j.JobID != "" {
					all = append(all, j.JobID)
				}
			}
		}
		if ids, err = unfinished(c, conn.batch, all); err != nil {
			return fmt.Errorf("cancel %s: %w", run, err)
		}
	}
	if len(ids) == 0 {
		fmt.Fprintf(c.App.Writer, "run %s: nothing to cancel, the chosen jobs have finished\n", run)
		return nil
	}
	for _, id := range ids {
		if _, err := conn.batch.TerminateJob(ctx, &batch.TerminateJobInput{JobId: aws.String(id), Reason: aws.String(cancelReason)}); err != nil {
			return fmt.Errorf("cancel %s: terminate %s: %w", run, id, err)
		}
		log.Debug("terminated", "job", id)
	}
	// An engine in this process stops with the command: wait for the
	// children it is stopping. (An engine of another process, or AWS,
	// goes on stopping them.)
	if conn.engine != nil {
		if err := waitTerminal(c, conn.batch, ids); err != nil {
			return fmt.Errorf("cancel %s: %w", run, err)
		}
	}
	what := "run " + run
	if len(indexes) > 0 || len(shops) > 0 {
		what += " (chosen shops)"
	}
	fmt.Fprintf(c.App.Writer, "%s: terminated %d job(s); feedbatch status %s shows how each shop ended\n", what, len(ids), run)
	return nil
}

// cancelWait bounds how long cancel waits for the terminated jobs to stop.
const cancelWait = time.Minute

// unfinished are the jobs of ids the engine knows and has not finished.
func unfinished(c *cli.Context, api *batch.Client, ids []string) ([]string, error) {
	var left []string
	for start := 0; start < len(ids); start += 100 {
		out, err := api.DescribeJobs(c.Context, &batch.DescribeJobsInput{Jobs: ids[start:min(start+100, len(ids))]})
		if err != nil {
			return nil, fmt.Errorf("describe jobs: %w", err)
		}
		for _, d := range out.Jobs {
			if d.Status != types.JobStatusSucceeded && d.Status != types.JobStatusFailed {
				left = append(left, aws.ToString(d.JobId))
			}
		}
	}
	return left, nil
}

// waitTerminal waits until every job of ids has stopped, so that an
// in-process engine is not closed under children still being stopped.
func waitTerminal(c *cli.Context, api *batch.Client, ids []string) error {
	deadline := time.Now().Add(cancelWait)
	for len(ids) > 0 {
		left, err := unfinished(c, api, ids)
		if err != nil {
			return err
		}
		if ids = left; len(ids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d job(s) still stopping after %s (feedbatch status shows them)", len(ids), cancelWait)
		}
		select {
		case <-c.Context.Done():
			return c.Context.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
