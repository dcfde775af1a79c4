package main

import (
	"context"
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
	"github.com/urfave/cli/v2"

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
			"totals and durations per stage, feed items per platform, failure reasons, links to feeds\n" +
			"and logs. Open it from the file system or from S3; it needs no server.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "open", Usage: "open the page in the default browser (file:// roots)", EnvVars: []string{"FEEDBATCH_REPORT_OPEN"}},
			&cli.BoolFlag{Name: "engine-state", Value: true, Usage: "ask the engine about children that left no result record, and (local engine, file:// root) link each child's log file", EnvVars: []string{"FEEDBATCH_REPORT_ENGINE_STATE"}},
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
// and the log links.
func reportOptions(c *cli.Context, _ store.Store, spec rootSpec, run string, conn *batchConn, log *slog.Logger) report.Options {
	opts := report.Options{Logger: log, Steps: runs.Steps(all.Graph())}
	if conn != nil {
		// One read of the run: the engine's view joins the result records.
		opts.Engine = planner.EngineOf(conn.batch)
		if conn.kind == engineLocal && spec.scheme == "file" {
			opts.LogLinks = localLogLinks(c, conn, filepath.Join(spec.dir, "runs", run))
		}
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

// localLogLinks links each child's log file in the local engine's directory,
// relative to the report's directory, asking conn for the log streams.
func localLogLinks(c *cli.Context, conn *batchConn, reportDir string) func(context.Context, []report.LogRef) (map[report.LogRef]string, error) {
	return func(ctx context.Context, refs []report.LogRef) (map[report.LogRef]string, error) {
		if len(refs) == 0 {
			return nil, nil
		}
		dir, err := localEngineDir(c, readOnly)
		if err != nil {
			return nil, err
		}
		client := conn.batch
		byJob := map[string][]report.LogRef{}
		var ids []string
		for _, r := range refs {
			if byJob[r.JobID] == nil {
				ids = append(ids, r.JobID)
			}
			byJob[r.JobID] = append(byJob[r.JobID], r)
		}
		links := make(map[report.LogRef]string, len(refs))
		for start := 0; start < len(ids); start += 100 {
			out, err := client.DescribeJobs(ctx, &batch.DescribeJobsInput{Jobs: ids[start:min(start+100, len(ids))]})
			if err != nil {
				return links, fmt.Errorf("describe jobs: %w", err)
			}
			for _, j := range out.Jobs {
				var streams []string
				for _, a := range j.Attempts {
					if a.Container != nil {
						streams = append(streams, aws.ToString(a.Container.LogStreamName))
					}
				}
				for _, r := range byJob[aws.ToString(j.JobId)] {
					stream := ""
					switch {
					case r.Attempt >= 1 && r.Attempt <= len(streams):
						stream = streams[r.Attempt-1]
					case len(streams) > 0:
						stream = streams[len(streams)-1]
					}
					if l := logFileLink(dir, reportDir, stream); l != "" {
						links[r] = l
					}
				}
			}
		}
		return links, nil
	}
}

// logFileLink is the link from reportDir to the log file of stream in the
// local engine's directory ("" if the stream is empty, escapes the logs
// directory, or has no file).
func logFileLink(engineDir, reportDir, stream string) string {
	clean := filepath.Clean(filepath.FromSlash(stream))
	if stream == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return ""
	}
	p := filepath.Join(engineDir, "logs", clean) // the local engine keeps one file per stream here
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	rel, err := filepath.Rel(reportDir, p)
	if err != nil {
		return ""
	}
	segs := strings.Split(filepath.ToSlash(rel), "/")
	for i, s := range segs {
		if s != ".." {
			segs[i] = url.PathEscape(s)
		}
	}
	return strings.Join(segs, "/")
}
