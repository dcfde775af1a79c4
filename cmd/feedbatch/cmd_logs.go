package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
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
	out, err := conn.batch.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{o.JobID}})
	if err != nil {
		return fmt.Errorf("logs: describe %s: %w", o.JobID, err)
	}
	if len(out.Jobs) == 0 {
		return fmt.Errorf("logs: job %s is no longer known to the engine: %w", o.JobID, store.ErrNotFound)
	}
	d := out.Jobs[0]
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
	return printLogEvents(c, conn.logs, group, stream)
}

// printLogEvents pages through a log stream from its head.
func printLogEvents(c *cli.Context, api *cloudwatchlogs.Client, group, stream string) error {
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
			return nil
		}
		in.NextToken = aws.String(next)
	}
}
