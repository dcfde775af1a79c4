package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/engine"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// maxShopLines is the run size up to which status lists every shop.
const maxShopLines = 100

func init() {
	register(&cli.Command{
		Name:      "status",
		Usage:     "per shop x stage: state, attempts, exit code, reason, duration, across the run and its re-runs",
		ArgsUsage: "<run>",
		Description: "status only looks: it asks the running local engine, or reads the local engine's journal,\n" +
			"and never starts, resumes or stops a job. A local run that was interrupted (feedbatch run killed)\n" +
			"shows the jobs it left as the journal has them; resuming it is an explicit act: status --wait.",
		Flags: []cli.Flag{
			engineFlag, engineDirFlag, queueFlag, vcpusFlag, memoryFlag,
			&cli.StringFlag{Name: "index", Usage: "only these daily-run indexes (17,40-45)", EnvVars: []string{"FEEDBATCH_INDEX_SELECT"}},
			&cli.StringFlag{Name: "shop", Usage: "only these shop ids (comma-separated)", EnvVars: []string{"FEEDBATCH_SHOP"}},
			&cli.BoolFlag{Name: "json", Usage: "print JSON", EnvVars: []string{"FEEDBATCH_JSON"}},
			&cli.BoolFlag{Name: "no-engine", Usage: "read result records only; do not ask the Batch engine", EnvVars: []string{"FEEDBATCH_NO_ENGINE"}},
			&cli.BoolFlag{Name: "wait", Usage: "resume an interrupted local run (jobs lost with the engine are settled once and retried by their retry strategy), wait for the run's and its re-runs' jobs to finish with progress, then print the status", EnvVars: []string{"FEEDBATCH_STATUS_WAIT"}},
			pollFlag,
		},
		Action: statusAction,
	})
}

// selection parses --index and --shop.
func selection(c *cli.Context) (indexes []int64, shops []string, err error) {
	if s := c.String("index"); s != "" {
		if indexes, err = engine.ParseIndexes(s); err != nil {
			return nil, nil, usagef("--index: %v", err)
		}
	}
	for s := range strings.SplitSeq(c.String("shop"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			shops = append(shops, s)
		}
	}
	return indexes, shops, nil
}

// runArg returns the command's one positional argument, the run id. Flags
// may follow it ("feedbatch rerun 2026-11-23 --index 17"): urfave/cli stops
// parsing flags at the first argument, so the rest is parsed here.
func runArg(c *cli.Context) (string, error) {
	args, err := interspersed(c)
	if err != nil {
		return "", err
	}
	if len(args) != 1 {
		return "", usagef("want exactly one run id (see feedbatch %s --help)", c.Command.Name)
	}
	run := args[0]
	if err := planner.CheckRunID(run); err != nil {
		return "", usagef("%v", err)
	}
	return run, nil
}

func statusAction(c *cli.Context) error {
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
	st, err := openStoreFor(ctx, c.String(rootFlag.Name), access(!c.Bool("wait")))
	if err != nil {
		return err
	}
	var api planner.Watcher
	if !c.Bool("no-engine") {
		conn, err := connectRun(ctx, c, st, run, access(!c.Bool("wait")), log)
		if err != nil {
			return err
		}
		defer conn.Close()
		api = conn.batch
		if c.Bool("wait") {
			if err := waitForRun(c, conn, st, run); err != nil {
				return err
			}
		}
	}
	s, err := planner.ReadStatus(ctx, st, api, planner.StatusInput{Run: run, Indexes: indexes, ShopIDs: shops, Log: log})
	if err != nil {
		return err
	}
	w := c.App.Writer
	if !c.Bool("wait") {
		for _, note := range interruptedNotes(c, st, run) {
			fmt.Fprintln(c.App.ErrWriter, "note: "+note)
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return err
		}
		return statusErr(s)
	}
	printStatus(w, s, len(indexes) > 0 || len(shops) > 0)
	return statusErr(s)
}

// statusErr is errShopsFailed when a shop's latest outcome in some stage is
// FAILED (exit 4, as run's), so that `plan && status --wait` works in a
// script.
func statusErr(s *planner.Status) error {
	var parts []string
	for _, stage := range s.Stages {
		if f := s.Failed[stage]; f != "" {
			parts = append(parts, "failed "+stage+": "+f)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("run %s: %w (%s; feedbatch rerun %s --failed)", s.Run, errShopsFailed, strings.Join(parts, "; "), s.Run)
}

// stateOrder is the column order of the counts table.
var stateOrder = []string{"SUCCEEDED", "FAILED", planner.StateSkipped, "RUNNING", "STARTING", "RUNNABLE", "PENDING", "SUBMITTED", planner.StateUnknown}

func printStatus(w io.Writer, s *planner.Status, narrow bool) {
	fmt.Fprintf(w, "run %s: %d shops, stages %s, %d re-run(s)\n", s.Run, len(s.Shops), strings.Join(s.Stages, ", "), s.Reruns)
	if s.EngineError != "" {
		fmt.Fprintf(w, "note: engine not reachable, states from result records only (%s)\n", s.EngineError)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	var cols []string
	for _, st := range stateOrder {
		for _, name := range s.Stages {
			if s.Counts[name][st] > 0 {
				cols = append(cols, st)
				break
			}
		}
	}
	fmt.Fprintf(tw, "STAGE\t%s\n", strings.Join(cols, "\t"))
	for _, name := range s.Stages {
		var cells []string
		for _, st := range cols {
			cells = append(cells, fmt.Sprint(s.Counts[name][st]))
		}
		fmt.Fprintf(tw, "%s\t%s\n", name, strings.Join(cells, "\t"))
	}
	tw.Flush()
	for _, name := range s.Stages {
		if f := s.Failed[name]; f != "" {
			fmt.Fprintf(w, "failed %s: %s\n", name, f)
		}
	}
	for _, name := range s.Stages {
		if f := s.Skipped[name]; f != "" {
			fmt.Fprintf(w, "skipped %s (upstream failed): %s\n", name, f)
		}
	}
	for _, name := range s.Stages {
		for _, p := range slices.Sorted(maps.Keys(s.Unpublished[name])) {
			fmt.Fprintf(w, "not published %s %s: %s\n", name, p, s.Unpublished[name][p])
		}
	}
	if !narrow && len(s.Shops) > maxShopLines {
		fmt.Fprintf(w, "(%d shops: use --index or --shop for per-shop detail, --json for everything)\n", len(s.Shops))
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tSHOP\tSTAGE\tSTATE\tATTEMPTS\tEXIT\tDURATION\tWHERE\tREASON")
	for _, sh := range s.Shops {
		for _, name := range s.Stages {
			cell := sh.Stages[name]
			rows := []planner.Outcome{cell.Latest}
			if narrow && len(cell.History) > 1 {
				rows = slices.Clone(cell.History)
				slices.Reverse(rows)
			}
			for i, o := range rows {
				idx, shop, stage := fmt.Sprint(sh.Index), sh.ShopID, name
				if i > 0 {
					idx, shop, stage = "", "", "  earlier"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", idx, shop, stage, o.State, dash(o.Attempts), exitText(o.ExitCode),
					durationText(o), where(o), publishedText(o)+reasonText(o, name, sh.ShopID, narrow))
			}
		}
	}
	tw.Flush()
}

func dash(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func exitText(p *int32) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(aws.ToInt32(p))
}

func durationText(o planner.Outcome) string {
	d := time.Duration(o.DurationMS) * time.Millisecond
	if d == 0 && !o.Started.IsZero() && !o.Stopped.IsZero() {
		d = o.Stopped.Sub(o.Started)
	}
	if d == 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

func where(o planner.Outcome) string {
	if o.Rerun > 0 {
		return fmt.Sprintf("re-run %d #%d", o.Rerun, o.Index)
	}
	return "run"
}

// essentialExited is AWS Batch's statusReason of every container exit.
const essentialExited = "Essential container in task exited"

// maxListReason is how much of a reason a listing of every shop shows.
const maxListReason = 120

// reasonText is why a shop's stage ended as it did, for people
// (runs.ErrorLines: no Go error chain or map, one line per platform that
// was not published, lines joined by "; "): the engine's reason, unless it
// is AWS Batch's "Essential container in task exited" (said of every exit)
// beside the child's own error, then the child's error. Where a person
// asked for some shops (full), the whole text; in a listing of every
// shop, the first 120 characters.
func reasonText(o planner.Outcome, stage, shop string, full bool) string {
	var lines []string
	if eng := strings.TrimPrefix(o.Reason, essentialExited+": "); o.State != "SUCCEEDED" && eng != "" && !(o.Error != "" && eng == essentialExited) {
		lines = append(lines, runs.HumanLine(stage, shop, eng))
	}
	if o.Error != "" || len(o.Unpublished()) > 0 {
		lines = append(lines, runs.ErrorLines(stage, shop, stages.Result{Error: o.Error, Platforms: o.Platforms})...)
	}
	r := strings.Join(lines, "; ")
	if !full && len(r) > maxListReason {
		cut := maxListReason - 3
		for cut > 0 && !utf8.RuneStart(r[cut]) {
			cut--
		}
		r = r[:cut] + "..."
	}
	return r
}

// publishedText says which platforms a partly published outcome published
// ("published google, meta; "; the reason then says why each other was
// not), "" otherwise.
func publishedText(o planner.Outcome) string {
	un := o.Unpublished()
	if len(un) == 0 || len(un) == len(o.Platforms) {
		return ""
	}
	return fmt.Sprintf("published %s; ", strings.Join(o.Published(), ", "))
}

// interspersed parses flags that follow positional arguments into c and
// returns the positional arguments.
func interspersed(c *cli.Context) ([]string, error) {
	byName := map[string]cli.Flag{}
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			byName[n] = f
		}
	}
	var pos []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "help" || name == "h" {
			// urfave/cli stops parsing flags at the first argument, so
			// "<cmd> ARG --help" arrives here: show help, run nothing.
			if err := cli.ShowCommandHelp(c.Lineage()[1], c.Command.Name); err != nil {
				return nil, err
			}
			return nil, errHelpShown
		}
		f, ok := byName[name]
		if !ok {
			return nil, undefinedFlag(c, name)
		}
		if !hasValue {
			if _, isBool := f.(*cli.BoolFlag); isBool {
				value = "true"
			} else {
				if i+1 >= len(args) {
					return nil, usagef("flag needs an argument: -%s", name)
				}
				i++
				value = args[i]
			}
		}
		if err := c.Set(f.Names()[0], value); err != nil {
			return nil, usagef("invalid value %q for flag -%s: %v", value, name, err)
		}
		// The flag's own check, which urfave/cli runs only for flags
		// before the first argument.
		if af, ok := f.(cli.ActionableFlag); ok {
			if err := af.RunAction(c); err != nil {
				return nil, err
			}
		}
	}
	return pos, nil
}

// recordName is "run X" or "re-run k of X".
func recordName(rec *planner.Record) string {
	if rec.Rerun > 0 {
		return fmt.Sprintf("re-run %d of %s", rec.Rerun, rec.RunID)
	}
	return "run " + rec.RunID
}

// interruptedNotes are the lines telling that a run's or re-run's
// submission was cut short, and the command that finishes it.
func interruptedNotes(c *cli.Context, st store.Store, run string) []string {
	ctx := c.Context
	origin, err := planner.ReadRecord(ctx, st, planner.RecordKey(run))
	if err != nil {
		return nil
	}
	reruns, _ := planner.Reruns(ctx, st, run)
	var out []string
	for _, rec := range append([]*planner.Record{origin}, reruns...) {
		if n, jobs, ok := planner.Interrupted(rec); ok {
			out = append(out, fmt.Sprintf("%s: submission interrupted (%d of %d jobs submitted); feedbatch status %s --wait submits the rest", recordName(rec), n, jobs, run))
		}
	}
	return out
}

// waitForRun waits for the jobs of run and of each of its re-runs.
func waitForRun(c *cli.Context, conn *batchConn, st store.Store, run string) error {
	ctx := c.Context
	origin, err := planner.ReadRecord(ctx, st, planner.RecordKey(run))
	if err != nil {
		return err
	}
	reruns, err := planner.Reruns(ctx, st, run)
	if err != nil {
		return err
	}
	for _, rec := range append([]*planner.Record{origin}, reruns...) {
		if _, _, interrupted := planner.Interrupted(rec); interrupted {
			// Its submission was cut short: adopt what was submitted under
			// the fixed job names, submit the rest.
			if rec, err = planner.Resume(ctx, st, conn.batch, planner.ResumeInput{Key: rec.Key(), Log: slog.Default()}); err != nil {
				return err
			}
			fmt.Fprintf(c.App.ErrWriter, "%s: submission resumed, %d jobs submitted\n", recordName(rec), len(rec.Jobs))
		}
		pp := newProgressPrinter(c.App.ErrWriter)
		_, err := planner.Wait(ctx, conn.batch, rec, c.Duration(pollFlag.Name), pp.print)
		pp.done()
		if err != nil {
			return err
		}
	}
	return nil
}
