package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/engine"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/store"
)

var (
	pollFlag = &cli.DurationFlag{
		Name:    "poll",
		Usage:   "how often to ask the engine for progress",
		EnvVars: []string{"FEEDBATCH_POLL"},
		Value:   time.Second,
		Action: func(_ *cli.Context, d time.Duration) error {
			if d <= 0 {
				return usagef("--poll %v: want a positive duration (e.g. 500ms)", d)
			}
			return nil
		},
	}
	registerFlag = &cli.BoolFlag{
		Name:    "register",
		Usage:   "register the job definitions of cfn/template.yaml with the local engine first",
		EnvVars: []string{"FEEDBATCH_REGISTER"},
		Value:   true,
	}
	waitFlag = &cli.BoolFlag{
		Name:    "wait",
		Usage:   "wait for the jobs and print a summary (always with the in-process local engine)",
		EnvVars: []string{"FEEDBATCH_WAIT"},
		Value:   true,
	}
)

func init() {
	register(&cli.Command{
		Name:  "run",
		Usage: "the whole daily pipeline: plan, run every stage for every shop, wait, summarise",
		Flags: []cli.Flag{engineFlag, engineDirFlag, queueFlag, vcpusFlag, memoryFlag, registryFlag, runIDFlag, replanFlag,
			jobDefsFlag, registerFlag, pollFlag, waitFlag, notifyWebhookFlag, notifySNSFlag, reportURLFlag},
		Action: runAction,
	})
}

func runAction(c *cli.Context) error {
	ctx := c.Context
	log := slog.Default()
	// The run is claimed before an engine is started or joined: of several
	// `run` commands for one run id, only the owner goes on, so no command
	// that is about to refuse ("already planned") runs the local engine the
	// owner submits to.
	kind := c.String(engineFlag.Name)
	if err := checkEngine(kind); err != nil {
		return err
	}
	p, st, err := claimFromFlags(c, kind, c.String(queueFlag.Name), log)
	if err != nil {
		return err
	}
	conn, err := connect(ctx, c, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	if conn.engine != nil && c.Bool(registerFlag.Name) {
		root, err := absRoot(c.String(rootFlag.Name))
		if err != nil {
			return err
		}
		if err := registerJobDefinitions(ctx, conn.batch, root, all.Names()); err != nil {
			return err
		}
	}
	rec, err := p.Submit(ctx, conn.batch)
	if err != nil {
		submitHint(c, rec)
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "run %s: %d shops, %d jobs submitted to %s queue %s\n", rec.RunID, rec.Shops, len(rec.Jobs), rec.Engine, rec.Queue)
	if conn.engine == nil && !c.Bool(waitFlag.Name) {
		printPlanned(c, rec)
		return nil
	}
	return waitAndReport(c, conn, st, rec)
}

// submitHint tells, after a submission cut short, the command that
// finishes it.
func submitHint(c *cli.Context, rec *planner.Record) {
	if rec == nil {
		return
	}
	if n, jobs, ok := planner.Interrupted(rec); ok {
		fmt.Fprintf(c.App.ErrWriter, "%s: submission stopped (%d of %d jobs submitted); feedbatch status %s --wait submits the rest\n", recordName(rec), n, jobs, rec.RunID)
	}
}

// waitAndReport waits for a run's or re-run's jobs with progress on stderr,
// prints the per-stage summary, writes the report, and returns
// errShopsFailed when a shop failed.
func waitAndReport(c *cli.Context, conn *batchConn, st store.Store, rec *planner.Record) error {
	ctx := c.Context
	pp := newProgressPrinter(c.App.ErrWriter)
	final, err := planner.Wait(ctx, conn.batch, rec, c.Duration(pollFlag.Name), pp.print)
	pp.done()
	if err != nil {
		if errors.Is(err, context.Canceled) && conn.engine != nil {
			fmt.Fprintf(c.App.ErrWriter, "interrupted: unfinished jobs resume the next time the local engine in this directory starts (feedbatch status %s)\n", rec.RunID)
		}
		return err
	}
	sums, err := planner.Summarize(ctx, conn.batch, rec, final)
	if err != nil {
		return err
	}
	failed := printSummary(c.App.Writer, rec, sums)
	// The finalize step writes the report (with the engine's view of
	// children without a record and, for a local engine on a file:// root,
	// links to each child's log file) and summary.json, and notifies.
	if spec, err := parseRoot(c.String(rootFlag.Name)); err != nil {
		slog.Warn("report not written", "run", rec.RunID, "err", err)
	} else if key, err := finalizeAfterWait(c, conn, st, spec, rec); err != nil {
		slog.Warn("report not written", "run", rec.RunID, "err", err)
	} else {
		fmt.Fprintf(c.App.Writer, "report: %s\n", reportLocation(spec, key))
	}
	if failed {
		what := "run " + rec.RunID
		if rec.Rerun > 0 {
			what = fmt.Sprintf("re-run %d of %s", rec.Rerun, rec.RunID)
		}
		return fmt.Errorf("%s: %w (feedbatch status %s; feedbatch rerun %s --failed)", what, errShopsFailed, rec.RunID, rec.RunID)
	}
	return nil
}

// printSummary prints one line per stage and the failed index lists (in the
// daily run's indexes); it reports whether anything failed.
func printSummary(w io.Writer, rec *planner.Record, sums []planner.StageSummary) bool {
	what := "run " + rec.RunID
	if rec.Rerun > 0 {
		what = fmt.Sprintf("re-run %d of %s", rec.Rerun, rec.RunID)
	}
	fmt.Fprintf(w, "%s: %d shops\n", what, rec.Shops)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSHOPS\tSUCCEEDED\tFAILED\tSKIPPED (upstream failed)")
	failed := false
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", s.Stage, s.Total, s.Succeeded, s.Failed, s.Skipped)
		failed = failed || s.Failed > 0 || s.Skipped > 0
	}
	tw.Flush()
	// The record's indexes, in the daily run's (the lineage is the run
	// model's; an unreadable one prints the record's own).
	toOrigin := func(idx []int64) []int64 {
		out, err := runs.ToOrigin(rec, idx)
		if err != nil {
			return idx
		}
		return out
	}
	for _, s := range sums {
		if len(s.FailedIndexes) > 0 {
			fmt.Fprintf(w, "failed %s: %s\n", s.Stage, engine.FormatIndexes(toOrigin(s.FailedIndexes)))
		}
		if len(s.SkippedIndexes) > 0 {
			fmt.Fprintf(w, "skipped %s: %s\n", s.Stage, engine.FormatIndexes(toOrigin(s.SkippedIndexes)))
		}
	}
	return failed
}

// progressPrinter shows per-stage progress: redrawn in place on a
// terminal, one line per change (at most every 5 s) otherwise.
type progressPrinter struct {
	w       io.Writer
	tty     bool
	last    string // latest line
	printed string // latest line printed
	steps   []planner.Step
	lastT   time.Time
	drawn   bool
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressPrinter{w: w, tty: tty, steps: planner.Steps(all.Graph())}
}

func (p *progressPrinter) print(ps []planner.StageProgress) {
	var parts []string
	skipped := skippedCounts(ps, p.steps)
	for _, s := range ps {
		part := fmt.Sprintf("%s %d/%d", s.Stage, s.Finished(), s.Total)
		if p.tty {
			part += " " + bar(s.Finished(), s.Total, 12)
		}
		if s.Running > 0 {
			part += fmt.Sprintf(" running %d", s.Running)
		}
		failed, skip := s.Failed-skipped[s.Stage], skipped[s.Stage]
		if s.Split {
			failed, skip = s.Failed, s.Skipped
		}
		if failed > 0 {
			part += fmt.Sprintf(" failed %d", failed)
		}
		if n := skip; n > 0 {
			part += fmt.Sprintf(" skipped %d", n)
		}
		parts = append(parts, part)
	}
	line := strings.Join(parts, " | ")
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
		return
	}
	p.last = line
	if line != p.printed && (p.printed == "" || time.Since(p.lastT) >= 5*time.Second) {
		fmt.Fprintln(p.w, line)
		p.printed, p.lastT = line, time.Now()
	}
}

// skippedCounts estimates, for stages whose progress is not Split, how many
// of its FAILED children never ran because their upstream shop failed
// (Batch fails them with "Dependent Job failed"): with N_TO_N, a stage's child i is skipped exactly when child
// i of an upstream stage failed or was skipped, so the count is bounded by
// the upstream's failures (exact once the failures have propagated).
func skippedCounts(ps []planner.StageProgress, steps []planner.Step) map[string]int64 {
	failed := map[string]int64{}
	for _, s := range ps {
		failed[s.Stage] = s.Failed + s.Skipped
	}
	out := map[string]int64{}
	for _, st := range steps {
		var up int64
		for _, a := range st.After {
			up = max(up, failed[a])
		}
		out[st.Name] = min(failed[st.Name], up)
	}
	return out
}

func (p *progressPrinter) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	} else if !p.tty && p.last != p.printed {
		fmt.Fprintln(p.w, p.last)
	}
}

func bar(done, total int64, width int) string {
	if total <= 0 {
		return ""
	}
	n := int(done * int64(width) / total)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
