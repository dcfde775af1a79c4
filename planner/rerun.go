package planner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/batch/types"

	"github.com/feedbatch/feedbatch/engine"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/store"
)

// RerunInput selects the shops and stages of a partial re-run.
type RerunInput struct {
	// Run is the daily run to re-run shops of.
	Run string
	// Indexes (daily-run indexes) and ShopIDs choose shops explicitly.
	Indexes []int64
	ShopIDs []string
	// Failed chooses every shop whose latest outcome failed in some stage
	// (engine and result records), each from its first failed stage.
	Failed bool
	// Stages are the stages to run (their downstream stages follow); empty
	// means all. With Failed, only failures in these stages count.
	Stages []string
	// Current, when not nil, holds the shops as the registry has them now
	// (by shop id): the chosen shops take their settings from here instead
	// of the origin run's manifest (keeping their origin run and index), so
	// that a fixed registry reaches the re-run.
	Current map[string]manifest.Row
	// DryRun plans without writing or submitting anything.
	DryRun  bool
	Steps   []Step
	Target  Target
	Engine  string
	Version string
	Config  map[string]string
	Now     func() time.Time
	Log     *slog.Logger
}

// RerunPlan is a re-run, planned (and unless DryRun, submitted).
type RerunPlan struct {
	Record *Record
	// Rows are the subset manifest's rows (OriginIndex = daily index).
	Rows []manifest.Row
	// Changes are the shops whose settings Current changed, versus the
	// origin run's rows.
	Changes []manifest.Change
}

// Rerun writes a subset manifest of the chosen shops under
// runs/<run>/reruns/<k>/ (k claimed with a conditional write of its
// run.json) and submits the chosen stages over it. Shops that need different
// stages (with Failed) form separate groups: contiguous row ranges of the
// one subset manifest, each submitted as its own arrays (or single jobs for a
// one-shop group) with FEEDBATCH_INDEX_OFFSET.
func Rerun(ctx context.Context, st store.Store, api BatchAPI, in RerunInput) (*RerunPlan, error) {
	if in.Now == nil {
		in.Now = time.Now
	}
	if in.Log == nil {
		in.Log = slog.Default()
	}
	log := in.Log.With("run", in.Run)
	if err := CheckRunID(in.Run); err != nil {
		return nil, err
	}
	for _, s := range in.Stages {
		if !slices.ContainsFunc(in.Steps, func(x Step) bool { return x.Name == s }) {
			return nil, fmt.Errorf("rerun %s: unknown stage %q", in.Run, s)
		}
	}
	origin, err := ReadRecord(ctx, st, RecordKey(in.Run))
	if err != nil {
		return nil, fmt.Errorf("rerun %s: %w", in.Run, err)
	}
	rows, _, err := manifest.ReadAll(ctx, st, origin.Manifest)
	if err != nil {
		return nil, fmt.Errorf("rerun %s: %w", in.Run, err)
	}

	// daily index -> stages to run
	plan := map[int64][]string{}
	chosen := in.Stages
	if len(chosen) == 0 {
		for _, s := range in.Steps {
			chosen = append(chosen, s.Name)
		}
	}
	if len(in.Indexes) > 0 || len(in.ShopIDs) > 0 {
		idx, err := runs.SelectIndexes(rows, in.Indexes, in.ShopIDs)
		if err != nil {
			return nil, fmt.Errorf("rerun %s: %w", in.Run, err)
		}
		stagesToRun := Downstream(in.Steps, chosen)
		for _, i := range idx {
			plan[i] = stagesToRun
		}
	}
	if in.Failed {
		s, err := ReadStatus(ctx, st, api, StatusInput{Run: in.Run, Log: in.Log})
		if err != nil {
			return nil, fmt.Errorf("rerun %s: %w", in.Run, err)
		}
		if s.EngineError != "" {
			log.Warn("failed shops found from result records only", "engine_error", s.EngineError)
		}
		for _, sh := range s.Shops {
			var failed []string
			for _, name := range chosen {
				if c := sh.Stages[name]; c != nil && c.Latest.State == string(types.JobStatusFailed) {
					failed = append(failed, name)
				}
			}
			if len(failed) > 0 {
				plan[sh.Index] = Downstream(in.Steps, append(plan[sh.Index], failed...))
			}
		}
	}
	if len(plan) == 0 {
		return nil, fmt.Errorf("rerun %s: %w", in.Run, ErrNothingToRun)
	}

	// Groups by stage set, in graph order of their stages; rows by index.
	byStages := map[string][]int64{}
	for i, ss := range plan {
		key := strings.Join(ss, ",")
		byStages[key] = append(byStages[key], i)
	}
	keys := slices.SortedFunc(maps.Keys(byStages), func(a, b string) int {
		return slices.Compare(stageRanks(in.Steps, a), stageRanks(in.Steps, b))
	})
	now := in.Now().UTC()
	rec := &Record{
		RunID:     in.Run,
		OriginRun: in.Run,
		State:     StatePlanning,
		Engine:    in.Engine,
		Queue:     in.Target.Queue,
		Root:      in.Target.Root,
		Version:   in.Version,
		CreatedAt: now,
		UpdatedAt: now,
		Config:    maps.Clone(in.Config),
	}
	var order []int64
	for _, key := range keys {
		idx := byStages[key]
		slices.Sort(idx)
		rec.Groups = append(rec.Groups, Group{
			Offset:        int64(len(order)),
			Size:          int64(len(idx)),
			Stages:        strings.Split(key, ","),
			OriginIndexes: engine.FormatIndexes(idx),
		})
		order = append(order, idx...)
	}
	sub, err := manifest.Subset(rows, order, in.Run)
	if err != nil {
		return nil, fmt.Errorf("rerun %s: %w", in.Run, err)
	}
	var changes []manifest.Change
	if in.Current != nil {
		if sub, changes, err = fromCurrent(sub, in.Current); err != nil {
			return nil, fmt.Errorf("rerun %s: %w", in.Run, err)
		}
	}
	rec.Shops = int64(len(sub))

	if in.DryRun {
		// Number and job names as they would be now; nothing is claimed.
		prev, err := Reruns(ctx, st, in.Run)
		if err != nil {
			return nil, fmt.Errorf("rerun %s: %w", in.Run, err)
		}
		if err := layoutRerun(rec, in.Steps, len(prev)+1); err != nil {
			return nil, err
		}
		return &RerunPlan{Record: rec, Rows: sub, Changes: changes}, nil
	}

	// Claim the next free re-run number.
	rec.Owner = newOwner()
	var c *claim
	for k := 1; ; k++ {
		if err := layoutRerun(rec, in.Steps, k); err != nil {
			return nil, err
		}
		c, err = createClaim(ctx, st, rec, DefaultLease, in.Now)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrChanged) {
			return nil, fmt.Errorf("rerun %s: claim: %w", in.Run, err)
		}
	}
	log = log.With("rerun", rec.Rerun)
	meta := manifest.Meta{RunID: in.Run, Rerun: strconv.Itoa(rec.Rerun), OriginRun: in.Run, CreatedAt: now,
		Extra: map[string]string{"version": in.Version, "planner": rec.Owner}}
	if err := manifest.Save(ctx, st, rec.Manifest, meta, sub, &store.PutOptions{IfAbsent: true}); err != nil {
		return nil, fmt.Errorf("rerun %s: %w", in.Run, err)
	}
	log.Info("wrote re-run manifest", "key", rec.Manifest, "shops", len(sub))
	if err := submitJobs(ctx, api, c, rec, in.Target, log); err != nil {
		if !errors.Is(err, ErrClaimLost) {
			c.release(ctx, rec) // Resume takes it over at once
		}
		return &RerunPlan{Record: rec, Rows: sub, Changes: changes}, fmt.Errorf("rerun %s: %w", in.Run, err)
	}
	rec.State = StateSubmitted
	if err := c.write(ctx, rec); err != nil {
		return nil, fmt.Errorf("rerun %s: %w", in.Run, err)
	}
	return &RerunPlan{Record: rec, Rows: sub, Changes: changes}, nil
}

func layoutRerun(rec *Record, steps []Step, k int) error {
	rec.Rerun = k
	rec.Manifest = manifest.RerunKey(rec.RunID, strconv.Itoa(k))
	jobs, err := Layout(steps, rec.Groups, fmt.Sprintf("fb-%s-r%d", rec.RunID, k))
	if err != nil {
		return fmt.Errorf("rerun %s: %w", rec.RunID, err)
	}
	rec.Jobs = jobs
	return nil
}

// stageRanks maps a comma-joined stage set to graph positions.
func stageRanks(steps []Step, key string) []int {
	var r []int
	for _, s := range strings.Split(key, ",") {
		r = append(r, slices.IndexFunc(steps, func(x Step) bool { return x.Name == s }))
	}
	return r
}
