package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/store"
)

func init() {
	register(&cli.Command{
		Name:  "runs",
		Usage: "list the runs under the root: state, shops succeeded, failed and waiting, re-runs",
		Description: "Each run's state is its shops' latest outcomes across the run and its re-runs:\n" +
			"  interrupted  a submission stopped before every job was submitted (feedbatch status <run> --wait)\n" +
			"  submitting   a planner is submitting it right now\n" +
			"  running      some shop has a stage not finished\n" +
			"  failed       every stage finished, some shop failed\n" +
			"  succeeded    every shop succeeded in every stage\n" +
			"runs only looks: it asks the running local engine or reads its journal.",
		Flags: []cli.Flag{
			engineFlag, engineDirFlag, queueFlag,
			&cli.BoolFlag{Name: "json", Usage: "print JSON", EnvVars: []string{"FEEDBATCH_JSON"}},
			&cli.BoolFlag{Name: "no-engine", Usage: "read result records only; do not ask the Batch engine", EnvVars: []string{"FEEDBATCH_NO_ENGINE"}},
		},
		Action: runsAction,
	})
}

// RunSummary is one line of feedbatch runs.
type RunSummary struct {
	Run       string    `json:"run"`
	CreatedAt time.Time `json:"created_at"`
	State     string    `json:"state"`
	Engine    string    `json:"engine"`
	Shops     int       `json:"shops"`
	Succeeded int       `json:"succeeded"`
	Failed    int       `json:"failed"`
	Waiting   int       `json:"waiting"`
	Reruns    int       `json:"reruns"`
}

// Run states of feedbatch runs.
const (
	runInterrupted = "interrupted"
	runSubmitting  = "submitting"
	runRunning     = "running"
	runFailed      = "failed"
	runSucceeded   = "succeeded"
)

func runsAction(c *cli.Context) error {
	ctx := c.Context
	log := slog.Default()
	st, err := openStoreFor(ctx, c.String(rootFlag.Name), readOnly)
	if err != nil {
		return err
	}
	ids, err := listRuns(c, st)
	if err != nil {
		return err
	}
	// One read-only connection per engine kind the runs name.
	conns := map[string]*batchConn{}
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	var out []RunSummary
	for _, id := range ids {
		rec, err := planner.ReadRecord(ctx, st, planner.RecordKey(id))
		if err != nil {
			return err
		}
		var api planner.Watcher
		if !c.Bool("no-engine") {
			kind := cmp.Or(rec.Engine, c.String(engineFlag.Name))
			if c.IsSet(engineFlag.Name) {
				kind = c.String(engineFlag.Name)
			}
			conn := conns[kind]
			if conn == nil {
				if conn, err = connectKind(ctx, c, kind, readOnly, log); err != nil {
					return err
				}
				conns[kind] = conn
			}
			api = conn.batch
		}
		sum, err := summarizeRun(c, st, api, rec, log)
		if err != nil {
			return err
		}
		out = append(out, sum)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printRuns(c.App.Writer, out)
	return nil
}

// listRuns lists the run ids that have a runs/<run>/run.json, oldest first
// by id (daily run ids are dates).
func listRuns(c *cli.Context, st store.Store) ([]string, error) {
	var ids []string
	err := st.List(c.Context, "runs/", func(info store.Info) error {
		parts := strings.Split(info.Key, "/")
		if len(parts) == 3 && parts[2] == "run.json" && planner.CheckRunID(parts[1]) == nil {
			ids = append(ids, parts[1])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// summarizeRun counts the run's shops by their latest outcome across
// stages: failed when some stage failed (or was skipped), succeeded when
// every stage succeeded, waiting otherwise.
func summarizeRun(c *cli.Context, st store.Store, api planner.Watcher, rec *planner.Record, log *slog.Logger) (RunSummary, error) {
	sum := RunSummary{Run: rec.RunID, CreatedAt: rec.CreatedAt, Engine: rec.Engine}
	reruns, err := planner.Reruns(c.Context, st, rec.RunID)
	if err != nil {
		return sum, err
	}
	sum.Reruns = len(reruns)
	interrupted, submitting := false, false
	for _, r := range append([]*planner.Record{rec}, reruns...) {
		if _, _, ok := planner.Interrupted(r); ok {
			if r.Owner != "" && time.Since(r.UpdatedAt) < planner.DefaultLease {
				submitting = true
			} else {
				interrupted = true
			}
		}
	}
	s, err := planner.ReadStatus(c.Context, st, api, planner.StatusInput{Run: rec.RunID, Log: log})
	if err != nil {
		return sum, err
	}
	sum.Shops = len(s.Shops)
	for _, sh := range s.Shops {
		failed, done := false, true
		for _, name := range s.Stages {
			o := sh.Stages[name].Latest
			failed = failed || o.State == "FAILED" || o.State == planner.StateSkipped
			done = done && o.State == "SUCCEEDED"
		}
		switch {
		case failed:
			sum.Failed++
		case done:
			sum.Succeeded++
		default:
			sum.Waiting++
		}
	}
	switch {
	case interrupted:
		sum.State = runInterrupted
	case submitting:
		sum.State = runSubmitting
	case sum.Waiting > 0:
		sum.State = runRunning
	case sum.Failed > 0:
		sum.State = runFailed
	default:
		sum.State = runSucceeded
	}
	return sum, nil
}

func printRuns(w io.Writer, runs []RunSummary) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "no runs")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tCREATED\tSTATE\tSHOPS\tSUCCEEDED\tFAILED\tWAITING\tRE-RUNS\tENGINE")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", r.Run, r.CreatedAt.UTC().Format("2006-01-02 15:04"), r.State,
			r.Shops, r.Succeeded, r.Failed, r.Waiting, r.Reruns, r.Engine)
	}
	tw.Flush()
}
