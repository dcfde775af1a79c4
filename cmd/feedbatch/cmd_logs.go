package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/store"
)

func init() {
	register(&cli.Command{
		Name:      "logs",
		Usage:     "print one child's log (local engine log file or CloudWatch Logs)",
		ArgsUsage: "<run>",
		Flags: []cli.Flag{
			engineFlag, engineDirFlag, queueFlag, vcpusFlag, memoryFlag,
			&cli.StringFlag{Name: "stage", Usage: "stage name (required)", EnvVars: []string{"FEEDBATCH_LOGS_STAGE"}},
			&cli.Int64Flag{Name: "index", Usage: "daily-run index of the shop", Value: -1, DefaultText: "none", EnvVars: []string{"FEEDBATCH_LOGS_INDEX"}},
			&cli.StringFlag{Name: "shop", Usage: "shop id (instead of --index)", EnvVars: []string{"FEEDBATCH_LOGS_SHOP"}},
			&cli.IntFlag{Name: "attempt", Usage: "attempt number", DefaultText: "the last", EnvVars: []string{"FEEDBATCH_LOGS_ATTEMPT"}},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines until the child ends (waits for it to start)", EnvVars: []string{"FEEDBATCH_LOGS_FOLLOW"}},
			pollFlag,
			&cli.IntFlag{Name: "rerun", Usage: "re-run number (0: the daily run)", DefaultText: "the latest run of the stage for the shop", Value: -1, EnvVars: []string{"FEEDBATCH_LOGS_RERUN"}},
		},
		Action: logsAction,
	})
}

func logsAction(c *cli.Context) error {
	ctx := c.Context
	log := slog.Default()
	run, err := runArg(c)
	if err != nil {
		return err
	}
	if c.String("stage") == "" {
		return usagef("logs: give --stage")
	}
	in := planner.StatusInput{Run: run, Log: log}
	switch {
	case c.String("shop") != "":
		in.ShopIDs = []string{c.String("shop")}
	case c.Int64("index") >= 0:
		in.Indexes = []int64{c.Int64("index")}
	default:
		return usagef("logs: give --index N or --shop ID")
	}
	stage := c.String("stage")
	if !slices.Contains(all.Names(), stage) {
		return usagef("logs: unknown stage %q (stages: %s)", stage, strings.Join(all.Names(), ", "))
	}
	st, err := openStoreFor(ctx, c.String(rootFlag.Name), readOnly)
	if err != nil {
		return err
	}
	conn, err := connectRun(ctx, c, st, run, readOnly, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	s, err := planner.ReadStatus(ctx, st, conn.batch, in)
	if err != nil {
		return err
	}
	if s.EngineError != "" {
		return fmt.Errorf("logs: the engine does not answer: %s", s.EngineError)
	}
	if !slices.Contains(s.Stages, stage) {
		return usagef("logs: run %s has no stage %q (stages: %s)", run, stage, strings.Join(s.Stages, ", "))
	}
	cell := s.Shops[0].Stages[stage]
	o := cell.Latest
	if k := c.Int("rerun"); k >= 0 {
		i := slices.IndexFunc(cell.History, func(o planner.Outcome) bool { return o.Rerun == k })
		if i < 0 {
			return fmt.Errorf("logs: shop %s did not run %s in re-run %d: %w", s.Shops[0].ShopID, stage, k, store.ErrNotFound)
		}
		o = cell.History[i]
	}
	if o.JobID == "" {
		return fmt.Errorf("logs: %s of shop %s has no job (state %s): %w", stage, s.Shops[0].ShopID, o.State, store.ErrNotFound)
	}
	follow := c.Bool("follow")
	if follow && conn.engine != nil {
		// A read-only snapshot of the journal: no engine runs these jobs
		// now, so nothing more will come.
		log.Warn("no local engine is running; printing the log as it is (feedbatch status --wait resumes the run)")
		follow = false
	}
	d, err := describeJob(c, conn.batch, o.JobID)
	for err == nil && follow && !jobDone(d) && !hasStream(d) {
		// Not started yet: wait for its first attempt's stream.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.Duration(pollFlag.Name)):
		}
		d, err = describeJob(c, conn.batch, o.JobID)
	}
	if err != nil {
		return err
	}
	streams := []string{}
	for _, a := range d.Attempts {
		if a.Container != nil {
			streams = append(streams, aws.ToString(a.Container.LogStreamName))
		}
	}
	stream := ""
	switch k := c.Int("attempt"); {
	case k > 0 && k <= len(streams):
		stream = streams[k-1]
	case k > 0:
		return fmt.Errorf("logs: job %s has %d attempt(s), not %d: %w", o.JobID, len(streams), k, store.ErrNotFound)
	case len(streams) > 0:
		stream = streams[len(streams)-1]
	case d.Container != nil:
		stream = aws.ToString(d.Container.LogStreamName) // running: no attempt record yet
	}
	if stream == "" {
		return fmt.Errorf("logs: job %s (%s) has no log stream yet: %w", o.JobID, d.Status, store.ErrNotFound)
	}
	group := local.LogGroup // AWS Batch's default group, also the local engine's
	if d.Container != nil && d.Container.LogConfiguration != nil {
		if g := d.Container.LogConfiguration.Options["awslogs-group"]; g != "" {
			group = g
		}
	}
	log.Debug("log stream", "group", group, "stream", stream, "job", o.JobID)
	var more func() (bool, error)
	if follow {
		// Lines keep coming while this attempt runs.
		more = func() (bool, error) {
			d, err := describeJob(c, conn.batch, o.JobID)
			if err != nil {
				return false, err
			}
			return !jobDone(d) && (d.Container == nil || aws.ToString(d.Container.LogStreamName) == stream), nil
		}
	}
	return printLogEvents(c, conn.logs, group, stream, more)
}

// describeJob describes one job; a job the engine no longer knows is "not
// found".
func describeJob(c *cli.Context, api *batch.Client, id string) (types.JobDetail, error) {
	out, err := api.DescribeJobs(c.Context, &batch.DescribeJobsInput{Jobs: []string{id}})
	if err != nil {
		return types.JobDetail{}, fmt.Errorf("logs: describe %s: %w", id, err)
	}
	if len(out.Jobs) == 0 {
		return types.JobDetail{}, fmt.Errorf("logs: job %s is no longer known to the engine: %w", id, store.ErrNotFound)
	}
	return out.Jobs[0], nil
}

func jobDone(d types.JobDetail) bool {
	return d.Status == types.JobStatusSucceeded || d.Status == types.JobStatusFailed
}

func hasStream(d types.JobDetail) bool {
	return len(d.Attempts) > 0 || (d.Container != nil && aws.ToString(d.Container.LogStreamName) != "")
}

// printLogEvents pages through a log stream from its head. At the end of
// the stream, while more (if not nil) says more lines may come, it waits a
// --poll and reads on; once more says no, it reads what is left and ends.
func printLogEvents(c *cli.Context, api *cloudwatchlogs.Client, group, stream string, more func() (bool, error)) error {
	in := &cloudwatchlogs.GetLogEventsInput{
		LogGroupName:  aws.String(group),
		LogStreamName: aws.String(stream),
		StartFromHead: aws.Bool(true),
	}
	for {
		out, err := api.GetLogEvents(c.Context, in)
		if err != nil {
			return fmt.Errorf("logs: %s %s: %w", group, stream, err)
		}
		for _, e := range out.Events {
			fmt.Fprintln(c.App.Writer, aws.ToString(e.Message))
		}
		next := aws.ToString(out.NextForwardToken)
		// The end of the stream: the same token comes back.
		if len(out.Events) == 0 || next == "" || next == aws.ToString(in.NextToken) {
			if more == nil {
				return nil
			}
			goOn, err := more()
			if err != nil {
				return err
			}
			if !goOn {
				more = nil // one last read: the lines written before the end
			} else {
				select {
				case <-c.Context.Done():
					return c.Context.Err()
				case <-time.After(c.Duration(pollFlag.Name)):
				}
			}
		}
		if next != "" {
			in.NextToken = aws.String(next)
		}
	}
}
