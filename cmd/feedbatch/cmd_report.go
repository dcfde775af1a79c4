package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/engine/local"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/report"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/store"
)

func init() {
	register(&cli.Command{
		Name:      "report",
		Usage:     "write or refresh a run's report page (runs/<run>/report.html) and print where it is",
		ArgsUsage: "<run>",
		Description: "The report is one static page: a shops x stages grid folded over the run's re-runs,\n" +
			"totals and durations per stage, feed items per platform, failure reasons with every shop,\n" +
			"index list and re-run command, links to feeds and logs. The logs of failed children are\n" +
			"copied under runs/<run>/logs/ so that the links work wherever the run is copied. Open it\n" +
			"from the file system or from S3; it needs no server.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "open", Usage: "open the page in the default browser (file:// roots)", EnvVars: []string{"FEEDBATCH_REPORT_OPEN"}},
			&cli.BoolFlag{Name: "engine-state", Value: true, Usage: "ask the engine about children that left no result record, and copy the logs of failed children under runs/<run>/logs/", EnvVars: []string{"FEEDBATCH_REPORT_ENGINE_STATE"}},
			engineFlag, engineDirFlag, queueFlag,
		},
		Action: reportAction,
	})
}

func reportAction(c *cli.Context) error {
	ctx := c.Context
	log := slog.Default()
	run, err := runArg(c)
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
	var conn *batchConn
	if c.Bool("engine-state") {
		conn = reportEngine(ctx, c, st, run, log)
		if conn != nil {
			defer conn.Close()
		}
	}
	key, err := writeReport(ctx, c, st, spec, run, conn, log)
	if err != nil {
		return err
	}
	where := reportLocation(spec, key)
	fmt.Fprintln(c.App.Writer, where)
	if c.Bool("open") {
		if spec.scheme != "file" {
			return usagef("report: --open needs a file:// root; the page is at %s", where)
		}
		return openBrowser(ctx, filepath.Join(spec.dir, filepath.FromSlash(key)))
	}
	return nil
}

// reportEngine connects to the engine the run was submitted to (--engine,
// else run.json's), or returns nil: the local engine only when its directory
// exists (a copied root has none).
func reportEngine(ctx context.Context, c *cli.Context, st store.Store, run string, log *slog.Logger) *batchConn {
	kind := c.String(engineFlag.Name)
	if !c.IsSet(engineFlag.Name) {
		if rec, err := planner.ReadRecord(ctx, st, planner.RecordKey(run)); err == nil && rec.Engine != "" {
			kind = rec.Engine
		}
	}
	if kind == engineLocal && os.Getenv(envBatchEndpoint) == "" {
		dir, err := localEngineDir(c, readOnly)
		if err != nil {
			return nil
		}
		if _, err := os.Stat(dir); err != nil {
			log.Debug("no local engine directory: the report uses result records only", "engine_dir", dir)
			return nil
		}
	}
	conn, err := connectRun(ctx, c, st, run, readOnly, log)
	if err != nil {
		log.Warn("engine not available: the report uses result records only", "err", err)
		return nil
	}
	return conn
}

// writeReport writes the report of run. With conn, children that left no
// result record get their state from the engine, and with the local engine
// and a file:// root each child's log file is linked.
func writeReport(ctx context.Context, c *cli.Context, st store.Store, spec rootSpec, run string, conn *batchConn, log *slog.Logger) (string, error) {
	return report.WriteWith(ctx, st, run, reportOptions(c, st, spec, run, conn, log))
}

// reportOptions are writeReport's options: the stage graph, and with conn
// the engine (asked once, beside the result records: the run is read once)
// and the logs of failed children, copied under runs/<run>/logs/ so that
// the page's links work wherever the run's prefix is copied or uploaded.
func reportOptions(_ *cli.Context, st store.Store, _ rootSpec, _ string, conn *batchConn, log *slog.Logger) report.Options {
	opts := report.Options{Logger: log, Steps: runs.Steps(all.Graph())}
	if conn != nil {
		// One read of the run: the engine's view joins the result records.
		opts.Engine = planner.EngineOf(conn.batch)
		opts.CopyLogs = logCopier(conn, st, log)
	}
	return opts
}

// reportLocation is the page's file:// or s3:// URL.
func reportLocation(spec rootSpec, key string) string {
	if spec.scheme == "file" {
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(spec.dir, filepath.FromSlash(key)))}
		return u.String()
	}
	return strings.TrimSuffix(spec.String(), "/") + "/" + key
}

func openBrowser(ctx context.Context, file string) error {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	cmd := exec.CommandContext(ctx, name, file)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("report: open %s: %w", file, err)
	}
	return cmd.Process.Release()
}

// maxLogCopy is how much of one child's log the report copies; the rest is
// a `feedbatch logs` away.
const maxLogCopy = 4 << 20

// logCopier copies the logs of failed children into the store at the keys
// the report gives (report.Options.CopyLogs). It reads them as `feedbatch
// logs` does: each job's attempt streams from DescribeJobs, the lines from
// GetLogEvents (CloudWatch Logs in AWS, the local engine's log files
// locally). A copy already in the store is kept: a failed attempt's log
// does not change.
func logCopier(conn *batchConn, st store.Store, log *slog.Logger) func(context.Context, []report.FailedLog) (map[string]bool, error) {
	return func(ctx context.Context, logs []report.FailedLog) (map[string]bool, error) {
		copied := map[string]bool{}
		var todo []report.FailedLog
		for _, fl := range logs {
			if _, err := st.Stat(ctx, fl.Key); err == nil {
				copied[fl.Key] = true
			} else {
				todo = append(todo, fl)
			}
		}
		byJob := map[string][]report.FailedLog{}
		var ids []string
		for _, fl := range todo {
			if byJob[fl.Ref.JobID] == nil {
				ids = append(ids, fl.Ref.JobID)
			}
			byJob[fl.Ref.JobID] = append(byJob[fl.Ref.JobID], fl)
		}
		var errs []error
		for start := 0; start < len(ids); start += 100 {
			out, err := conn.batch.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: ids[start:min(start+100, len(ids))]})
			if err != nil {
				return copied, fmt.Errorf("describe jobs: %w", err)
			}
			for _, j := range out.Jobs {
				group := local.LogGroup
				if j.Container != nil && j.Container.LogConfiguration != nil {
					group = cmp.Or(j.Container.LogConfiguration.Options["awslogs-group"], group)
				}
				var streams []string
				for _, a := range j.Attempts {
					if a.Container != nil {
						streams = append(streams, aws.ToString(a.Container.LogStreamName))
					}
				}
				for _, fl := range byJob[aws.ToString(j.JobId)] {
					stream := ""
					switch k := fl.Ref.Attempt; {
					case k >= 1 && k <= len(streams):
						stream = streams[k-1]
					case len(streams) > 0:
						stream = streams[len(streams)-1]
					}
					if stream == "" {
						continue // never started: nothing to copy
					}
					if err := copyLog(ctx, conn.logs, st, group, stream, fl); err != nil {
						errs = append(errs, err)
						continue
					}
					copied[fl.Key] = true
				}
			}
		}
		if len(errs) > 0 {
			log.Debug("log copies failed", "n", len(errs))
		}
		return copied, errors.Join(errs...)
	}
}

// copyLog copies one log stream to fl.Key, at most maxLogCopy bytes.
func copyLog(ctx context.Context, api *cloudwatchlogs.Client, st store.Store, group, stream string, fl report.FailedLog) error {
	var buf bytes.Buffer
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)}
	for buf.Len() < maxLogCopy {
		out, err := api.GetLogEvents(ctx, in)
		if err != nil {
			return fmt.Errorf("log of %s index %d: %s %s: %w", fl.Stage, fl.Index, group, stream, err)
		}
		for _, e := range out.Events {
			buf.WriteString(aws.ToString(e.Message))
			buf.WriteByte('\n')
		}
		next := aws.ToString(out.NextForwardToken)
		if len(out.Events) == 0 || next == "" || next == aws.ToString(in.NextToken) {
			break
		}
		in.NextToken = aws.String(next)
	}
	if buf.Len() >= maxLogCopy {
		cmd := fmt.Sprintf("feedbatch logs %s --stage %s --index %d", strings.Split(fl.Key, "/")[1], fl.Stage, fl.Index)
		if fl.Rerun > 0 {
			cmd += fmt.Sprintf(" --rerun %d", fl.Rerun)
		}
		buf.Truncate(maxLogCopy)
		fmt.Fprintf(&buf, "\n[cut at %d bytes; %s prints all of it]\n", maxLogCopy, cmd)
	}
	po := &store.PutOptions{ContentType: "text/plain; charset=utf-8"}
	if err := st.Put(ctx, fl.Key, &buf, po); err != nil {
		return fmt.Errorf("log of %s index %d: %w", fl.Stage, fl.Index, err)
	}
	return nil
}
