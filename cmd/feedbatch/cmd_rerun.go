package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/internal/secret"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/store"
)

func init() {
	register(&cli.Command{
		Name:      "rerun",
		Usage:     "re-run chosen shops (by index, shop id, or everything that failed) without touching the others",
		ArgsUsage: "<run>",
		Description: "Writes a subset manifest runs/<run>/reruns/<k>/manifest.parquet linked to the run and submits\n" +
			"the chosen stages and their downstream stages over it. --failed starts each shop at its first failed stage.\n" +
			"With --from-registry the chosen shops' rows come from the registry as it is now (a fixed source, a platform\n" +
			"removed), keeping their index and origin run; --dry-run prints each changed field as 'field: old -> new'.",
		Flags: []cli.Flag{
			engineFlag, engineDirFlag, queueFlag, vcpusFlag, memoryFlag, jobDefsFlag, registerFlag, pollFlag, waitFlag,
			notifyWebhookFlag, notifySNSFlag, reportURLFlag,
			&cli.StringFlag{Name: "index", Usage: "daily-run indexes to re-run (17,40-45)", EnvVars: []string{"FEEDBATCH_RERUN_INDEX"}},
			&cli.StringFlag{Name: "shop", Usage: "shop ids to re-run (comma-separated)", EnvVars: []string{"FEEDBATCH_RERUN_SHOP"}},
			&cli.BoolFlag{Name: "failed", Usage: "re-run every shop whose latest outcome failed, from its first failed stage", EnvVars: []string{"FEEDBATCH_RERUN_FAILED"}},
			&cli.StringSliceFlag{Name: "stage", Usage: "stages to run (downstream stages follow; default: all)", EnvVars: []string{"FEEDBATCH_RERUN_STAGE"}},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan; write and submit nothing", EnvVars: []string{"FEEDBATCH_DRY_RUN"}},
			&cli.BoolFlag{Name: "force", Usage: "let stages override their safety guards (FEEDBATCH_FORCE=1, e.g. the feed drop guard)", EnvVars: []string{"FEEDBATCH_RERUN_FORCE"}},
			&cli.BoolFlag{Name: "from-registry", Usage: "take the chosen shops' settings from the registry as it is now (--registry, default: the one the run was planned from), not from the run's manifest; --dry-run shows what changed", EnvVars: []string{"FEEDBATCH_RERUN_FROM_REGISTRY"}},
			registryFlag,
		},
		Action: rerunAction,
	})
}

func rerunAction(c *cli.Context) error {
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
	if len(indexes) == 0 && len(shops) == 0 && !c.Bool("failed") {
		return usagef("rerun: choose shops with --index, --shop or --failed")
	}
	var stageNames []string
	for _, s := range c.StringSlice("stage") {
		for name := range strings.SplitSeq(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				if _, ok := all.Lookup(name); !ok {
					return usagef("rerun: unknown stage %q (stages: %s)", name, strings.Join(all.Names(), ", "))
				}
				stageNames = append(stageNames, name)
			}
		}
	}
	defs, err := jobDefinitions(c)
	if err != nil {
		return err
	}
	root, err := absRoot(c.String(rootFlag.Name))
	if err != nil {
		return err
	}
	st, err := openStoreFor(ctx, root, readOnly) // a re-run's run exists: create no root
	if err != nil {
		return err
	}
	conn, err := connectRun(ctx, c, st, run, access(c.Bool("dry-run")), log)
	if err != nil {
		return err
	}
	defer conn.Close()
	dry := c.Bool("dry-run")
	var current map[string]manifest.Row
	if c.Bool("from-registry") {
		if current, err = currentRegistry(c, st, run); err != nil {
			return err
		}
	}
	if conn.engine != nil && c.Bool(registerFlag.Name) && !dry {
		if err := registerJobDefinitions(ctx, conn.batch, root, all.Names()); err != nil {
			return err
		}
	}
	p, err := planner.Rerun(ctx, st, conn.batch, planner.RerunInput{
		Run:     run,
		Indexes: indexes,
		ShopIDs: shops,
		Failed:  c.Bool("failed"),
		Current: current,
		Stages:  stageNames,
		DryRun:  dry,
		Steps:   planner.Steps(all.Graph()),
		Target:  planner.Target{Queue: conn.queue, JobDefinitions: defs, Root: root, Force: c.Bool("force")},
		Engine:  conn.kind,
		Version: version,
		Config:  rerunConfig(c, stageNames, defs),
		Log:     log,
	})
	switch {
	case errors.Is(err, planner.ErrNothingToRun) && c.Bool("failed") && len(indexes) == 0 && len(shops) == 0:
		// Nothing failed (any more): re-running --failed is safe, not a
		// usage error.
		fmt.Fprintf(c.App.Writer, "run %s: no failed shop to re-run; nothing submitted\n", run)
		return nil
	case err != nil:
		if p != nil {
			submitHint(c, p.Record)
		}
		return err
	}
	printRerun(c.App.Writer, p, dry)
	if current != nil {
		printChanges(c.App.Writer, p.Changes)
	}
	if dry || (conn.engine == nil && !c.Bool(waitFlag.Name)) {
		return nil
	}
	return waitAndReport(c, conn, st, p.Record)
}

// currentRegistry loads the registry now (--registry, else the one the
// run was planned from) by shop id.
func currentRegistry(c *cli.Context, st store.Store, run string) (map[string]manifest.Row, error) {
	src := c.String(registryFlag.Name)
	if !c.IsSet(registryFlag.Name) {
		rec, err := planner.ReadRecord(c.Context, st, planner.RecordKey(run))
		if err != nil {
			return nil, err
		}
		src = rec.Config["registry"]
	}
	rows, err := loadRegistry(c.Context, src, st)
	if err != nil {
		return nil, err
	}
	out := make(map[string]manifest.Row, len(rows))
	for _, r := range rows {
		out[r.ShopID] = r
	}
	return out, nil
}

// printChanges prints what the registry changed for the re-run's shops,
// one "field: old -> new" line per changed field.
func printChanges(w io.Writer, changes []manifest.Change) {
	if len(changes) == 0 {
		fmt.Fprintln(w, "  from the registry: no shop's settings changed since the run")
		return
	}
	fmt.Fprintf(w, "  from the registry: %d shop(s) changed since the run\n", len(changes))
	for _, ch := range changes {
		fmt.Fprintf(w, "    shop %s (index %d):\n", ch.ShopID, ch.Old.OriginIndex)
		for _, f := range ch.Fields {
			fmt.Fprintf(w, "      %s: %s -> %s\n", f, manifest.FieldText(ch.Old, f), manifest.FieldText(ch.New, f))
		}
	}
}

// rerunConfig is what a re-run records of its command line: the selection
// and, for planner.Resume, the job definitions and --force.
func rerunConfig(c *cli.Context, stageNames []string, defs map[string]string) map[string]string {
	cfg := map[string]string{"index": c.String("index"), "shop": c.String("shop"), "failed": fmt.Sprint(c.Bool("failed")),
		"stage": strings.Join(stageNames, ","), "force": fmt.Sprint(c.Bool("force")), "from_registry": fmt.Sprint(c.Bool("from-registry"))}
	if c.Bool("from-registry") {
		cfg["registry"] = secret.Redact(c.String(registryFlag.Name))
	}
	for s, d := range defs {
		cfg["job_definition."+s] = d
	}
	return cfg
}

func printRerun(w io.Writer, p *planner.RerunPlan, dry bool) {
	rec := p.Record
	verb := "submitted"
	if dry {
		verb = "would submit (dry run)"
	}
	fmt.Fprintf(w, "re-run %d of %s: %d shops, manifest %s; %s %d jobs\n", rec.Rerun, rec.RunID, rec.Shops, rec.Manifest, verb, len(rec.Jobs))
	for gi, g := range rec.Groups {
		var ids []string
		for _, r := range p.Rows[g.Offset : g.Offset+g.Size] {
			ids = append(ids, r.ShopID)
		}
		shopList := strings.Join(ids, ",")
		if len(shopList) > 200 {
			shopList = shopList[:197] + "..."
		}
		fmt.Fprintf(w, "  group %d: stages %s; indexes %s (shops %s)\n", gi, strings.Join(g.Stages, "+"), g.OriginIndexes, shopList)
		for _, j := range rec.Jobs {
			if j.Group != gi {
				continue
			}
			kind := fmt.Sprintf("array of %d (rows %d-%d)", j.Size, j.Offset, j.Offset+j.Size-1)
			if !j.Array() {
				kind = fmt.Sprintf("single job (FEEDBATCH_INDEX=%d)", j.Offset)
			}
			deps := ""
			if len(j.DependsOn) > 0 {
				deps = " after " + strings.Join(j.DependsOn, ",")
			}
			fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("    %-8s %s %s%s %s", j.Stage, j.Name, kind, deps, j.JobID), " "))
		}
	}
}
