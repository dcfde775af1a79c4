package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/finalize"
	"github.com/feedbatch/feedbatch/notify"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/report"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

var (
	notifyWebhookFlag = &cli.StringFlag{
		Name:    "notify-webhook",
		Usage:   "Slack-compatible webhook URL told how the run ended",
		EnvVars: []string{"FEEDBATCH_NOTIFY_WEBHOOK"},
	}
	notifySNSFlag = &cli.StringFlag{
		Name:    "notify-sns-topic",
		Usage:   "SNS topic ARN told how the run ended",
		EnvVars: []string{"FEEDBATCH_NOTIFY_SNS_TOPIC"},
	}
	reportURLFlag = &cli.StringFlag{
		Name:    "report-url",
		Usage:   "base URL under which the root's keys open; the message links <base>runs/<run>/report.html (a \"/\" is added unless it ends in / or =; default: the report's s3:// or file:// location)",
		EnvVars: []string{"FEEDBATCH_REPORT_URL"},
	}
)

func init() {
	register(&cli.Command{
		Name:      "finalize",
		Usage:     "close a run: write the report and runs/<run>/summary.json, notify once",
		ArgsUsage: "[<run>]",
		Description: "When every stage job of the run (or of re-run --rerun K) is terminal, writes the report and\n" +
			"runs/<run>/summary.json and sends one notification (webhook and/or SNS): duplicate calls notify once\n" +
			"(runs/<run>/notified.json is created only if absent). --late warns once (runs/<run>/late.json) when the\n" +
			"run and its re-runs have not all finished. The run defaults to the one of --job-id's manifest, else to\n" +
			"today's UTC date. Exit status 5 with --if-finished: not finished yet.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "rerun", Usage: "finalize re-run K of the run (0: the daily run)", EnvVars: []string{"FEEDBATCH_FINALIZE_RERUN"}},
			&cli.StringFlag{Name: "job-id", Usage: "a stage job of the run or re-run (the EventBridge event's detail.jobId); its FEEDBATCH_MANIFEST names both", EnvVars: []string{"FEEDBATCH_FINALIZE_JOB_ID"}},
			&cli.BoolFlag{Name: "if-finished", Usage: "do nothing, exit 5, unless every stage job is terminal", EnvVars: []string{"FEEDBATCH_IF_FINISHED"}},
			&cli.BoolFlag{Name: "not-finished-ok", Usage: "with --if-finished: a run not finished yet exits 0 (the event of an earlier stage job: nothing to do, not a failure)", EnvVars: []string{"FEEDBATCH_NOT_FINISHED_OK"}},
			&cli.BoolFlag{Name: "late", Usage: "the deadline check: warn once if the run and its re-runs have not all finished", EnvVars: []string{"FEEDBATCH_FINALIZE_LATE"}},
			notifyWebhookFlag, notifySNSFlag, reportURLFlag, baseURLFlag,
			engineFlag, engineDirFlag, queueFlag,
		},
		Action: finalizeAction,
	})
}

func finalizeAction(c *cli.Context) error {
	ctx := c.Context
	log := slog.Default()
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usagef("finalize: want at most one run id")
	}
	run, rerun := "", c.Int("rerun")
	if rerun < 0 {
		return usagef("--rerun %d: want 0 (the daily run) or a re-run number", rerun)
	}
	if len(args) == 1 {
		run = args[0]
		if err := planner.CheckRunID(run); err != nil {
			return usagef("%v", err)
		}
	}
	n, err := notifierFromFlags(ctx, c)
	if err != nil {
		return err
	}
	spec, err := parseRoot(c.String(rootFlag.Name))
	if err != nil {
		return err
	}
	st, err := openStoreFor(ctx, c.String(rootFlag.Name), readOnly)
	if err != nil {
		return err
	}
	if id := c.String("job-id"); id != "" && run == "" {
		conn, err := connectKind(ctx, c, c.String(engineFlag.Name), readOnly, log)
		if err != nil {
			return err
		}
		run, rerun, err = runOfJob(ctx, conn.batch, id)
		conn.Close()
		if err != nil {
			return err
		}
	}
	switch {
	case run == "" && c.Bool("late"):
		run = lateRun(ctx, st, time.Now())
	case run == "":
		run = planner.DefaultRunID(time.Now())
	}
	var conn *batchConn
	if _, err := planner.ReadRecord(ctx, st, planner.RecordKey(run)); err == nil || !c.Bool("late") {
		if conn, err = connectRun(ctx, c, st, run, readOnly, log); err != nil {
			return err
		}
		defer conn.Close()
	}
	f := newFinalizer(c, st, spec, conn, n, log)
	if c.Bool("late") {
		out, err := f.Late(ctx, run)
		if err != nil {
			return err
		}
		switch {
		case out.Finished:
			fmt.Fprintf(c.App.Writer, "run %s: finished before the deadline\n", run)
		case out.Notified:
			fmt.Fprintf(c.App.Writer, "run %s: late; notified\n", run)
		case out.AlreadyNotified:
			fmt.Fprintf(c.App.Writer, "run %s: late; already notified\n", run)
		default:
			fmt.Fprintf(c.App.Writer, "run %s: late; nobody to notify (--notify-webhook, --notify-sns-topic)\n", run)
		}
		return nil
	}
	out, err := f.Run(ctx, finalize.Input{Run: run, Rerun: rerun, IfFinished: c.Bool("if-finished")})
	if errors.Is(err, finalize.ErrNotFinished) && c.Bool("not-finished-ok") {
		fmt.Fprintf(c.App.Writer, "%s: not finished yet; nothing written (the last stage job to end finalizes)\n", runWhat(run, rerun))
		return nil
	}
	if err != nil {
		return err
	}
	printFinalized(c, spec, run, rerun, out)
	return nil
}

// runWhat names a run or one of its re-runs for a person.
func runWhat(run string, rerun int) string {
	if rerun > 0 {
		return fmt.Sprintf("re-run %d of %s", rerun, run)
	}
	return "run " + run
}

func printFinalized(c *cli.Context, spec rootSpec, run string, rerun int, out finalize.Outcome) {
	what := runWhat(run, rerun)
	switch {
	case out.AlreadyNotified:
		fmt.Fprintf(c.App.Writer, "%s: finalized; already notified\n", what)
	case !out.Finished:
		fmt.Fprintf(c.App.Writer, "%s: not finished; report and summary written as they stand\n", what)
	case out.Notified:
		fmt.Fprintf(c.App.Writer, "%s: finalized; notified\n", what)
	default:
		fmt.Fprintf(c.App.Writer, "%s: finalized\n", what)
	}
	if out.ReportKey != "" {
		fmt.Fprintf(c.App.Writer, "report: %s\nsummary: %s\n", reportLocation(spec, out.ReportKey), reportLocation(spec, runs.SummaryKey(run)))
	}
}

// newFinalizer wires the finalize step: the engine answers whether the jobs
// are terminal (none: never), the report gets the engine's view, and the
// summary comes from the same report build.
func newFinalizer(c *cli.Context, st store.Store, spec rootSpec, conn *batchConn, n notify.Sender, log *slog.Logger) *finalize.Finalizer {
	var model *runs.Model // read once: the report and the summary
	f := &finalize.Finalizer{
		Store:  st,
		Notify: n,
		Log:    log,
		Finished: func(context.Context, *planner.Record) (bool, error) {
			return false, errors.New("no engine to ask")
		},
		WriteReport: func(ctx context.Context, run string) (string, error) {
			opts := reportOptions(c, st, spec, run, conn, log)
			m, err := runs.Load(ctx, st, run, runs.Options{Engine: opts.Engine, Steps: opts.Steps, Log: log})
			if err != nil {
				return "", fmt.Errorf("report %s: %w", run, err)
			}
			key, err := report.WriteModel(ctx, st, m, opts)
			if err != nil {
				return "", err
			}
			model = m
			return key, nil
		},
		Summarize: func(ctx context.Context, run string) (*finalize.Summary, error) {
			if model == nil || model.Run != run {
				return nil, fmt.Errorf("summary %s: the run was not read", run)
			}
			return &finalize.Summary{Summary: runs.BuildSummary(model)}, nil
		},
		ReportURL: func(key string) string { return reportURL(c.String(reportURLFlag.Name), spec, key) },
	}
	if conn != nil {
		f.Finished = finalize.EngineChecker(conn.batch)
	}
	return f
}

// notifierFromFlags returns the senders of --notify-webhook and
// --notify-sns-topic (nil when neither is set).
func notifierFromFlags(ctx context.Context, c *cli.Context) (notify.Sender, error) {
	var all notify.All
	if u := c.String(notifyWebhookFlag.Name); u != "" {
		if err := notify.CheckURL(u); err != nil {
			return nil, err // notify.ErrBadURL: a usage error
		}
		all = append(all, &notify.Webhook{URL: u})
	}
	if arn := c.String(notifySNSFlag.Name); arn != "" {
		if !strings.HasPrefix(arn, "arn:") || strings.Count(arn, ":") != 5 {
			return nil, usagef("--notify-sns-topic %q: want a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)", arn)
		}
		// AWS_ENDPOINT_URL_SNS points the client elsewhere (tests: moto).
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("aws config: %w", err)
		}
		if cfg.Region == "" {
			cfg.Region = strings.Split(arn, ":")[3]
		}
		all = append(all, notify.NewSNS(sns.NewFromConfig(cfg), arn))
	}
	if len(all) == 0 {
		return nil, nil
	}
	return all, nil
}

// manifestKeyRE matches a run's or re-run's manifest key.
var manifestKeyRE = regexp.MustCompile(`^runs/([^/]+)/(?:reruns/([0-9]+)/)?manifest\.parquet$`)

// runOfJob finds the run (and re-run) a stage job belongs to from the
// manifest key the planner gave it.
func runOfJob(ctx context.Context, api *batch.Client, jobID string) (string, int, error) {
	out, err := api.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: []string{jobID}})
	if err != nil {
		return "", 0, fmt.Errorf("finalize: describe job %s: %w", jobID, err)
	}
	if len(out.Jobs) == 0 {
		return "", 0, fmt.Errorf("finalize: job %s: %w", jobID, store.ErrNotFound)
	}
	j := out.Jobs[0]
	if j.Container != nil {
		for _, kv := range j.Container.Environment {
			if aws.ToString(kv.Name) != stages.EnvManifest {
				continue
			}
			m := manifestKeyRE.FindStringSubmatch(aws.ToString(kv.Value))
			if m == nil {
				break
			}
			k, _ := strconv.Atoi(cmp.Or(m[2], "0"))
			return m[1], k, nil
		}
	}
	return "", 0, usagef("finalize: job %s (%s) is not a feedbatch stage job (no %s)", jobID, aws.ToString(j.JobName), stages.EnvManifest)
}

// finalizeAfterWait is the local run's and re-run's finalize step, once
// their jobs are terminal: report, summary.json, and one notification
// (FEEDBATCH_NOTIFY_WEBHOOK, FEEDBATCH_NOTIFY_SNS_TOPIC). It returns the
// report's key.
func finalizeAfterWait(c *cli.Context, conn *batchConn, st store.Store, spec rootSpec, rec *planner.Record) (string, error) {
	ctx := c.Context
	log := slog.Default()
	n, err := notifierFromFlags(ctx, c)
	if err != nil {
		// The report and summary still matter more than the message.
		log.Warn("nobody will be notified", "err", err)
		n = nil
	}
	run := cmp.Or(rec.OriginRun, rec.RunID)
	out, err := newFinalizer(c, st, spec, conn, n, log).Run(ctx, finalize.Input{Run: run, Rerun: rec.Rerun})
	if err != nil && out.ReportKey != "" {
		log.Warn("notification not sent", "run", run, "err", err)
		return out.ReportKey, nil
	}
	return out.ReportKey, err
}

// lateRun is the run a deadline check without a run id is about: today's
// (UTC date) run, or, when today has none, yesterday's if it was planned
// less than a day ago (a schedule in a time zone ahead of UTC plans early
// in its day, on the previous UTC date).
func lateRun(ctx context.Context, st store.Store, now time.Time) string {
	today := planner.DefaultRunID(now)
	if _, err := planner.ReadRecord(ctx, st, planner.RecordKey(today)); err == nil {
		return today
	}
	y := planner.DefaultRunID(now.Add(-24 * time.Hour))
	if rec, err := planner.ReadRecord(ctx, st, planner.RecordKey(y)); err == nil && now.Sub(rec.CreatedAt) < 24*time.Hour {
		return y
	}
	return today
}

// reportURL is the link to key: base followed by the key (with a "/"
// between them unless base ends in "/" or "=", as a query such as the S3
// console's ?prefix= does), else the key's s3:// or file:// location.
func reportURL(base string, spec rootSpec, key string) string {
	switch {
	case base == "":
		return reportLocation(spec, key)
	case strings.HasSuffix(base, "/"), strings.HasSuffix(base, "="):
		return base + key
	}
	return base + "/" + key
}
