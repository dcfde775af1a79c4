package runs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// ErrInvalidRun is returned for a run id that cannot name a run. Check with
// errors.Is.
var ErrInvalidRun = errors.New("runs: invalid run id")

// resultReaders is how many result records are read at once by default.
const resultReaders = 32

// Load reads run from st once: run.json and its re-runs', the manifest,
// every result record (listed once, read in parallel) and, with
// opts.Engine, the engine's view of every submitted job.
func Load(ctx context.Context, st store.Store, run string, opts Options) (*Model, error) {
	if run == "" || strings.Contains(run, "/") || store.CheckKey(RunDir(run)) != nil {
		return nil, fmt.Errorf("%w %q", ErrInvalidRun, run)
	}
	l := &loader{st: st, run: run, opts: opts}
	l.opts.Log = cmp.Or(opts.Log, slog.New(slog.DiscardHandler))
	l.opts.Concurrency = cmp.Or(opts.Concurrency, resultReaders)
	if l.opts.Now == nil {
		l.opts.Now = time.Now
	}
	return l.load(ctx)
}

type loader struct {
	st   store.Store
	run  string
	opts Options
	m    *Model
	rows []manifest.Row
	// attempts by (re-run, stage, index in that run's manifest)
	attempts map[attemptKey]*Attempt
}

type attemptKey struct {
	rerun int
	stage string
	index int64
}

func (l *loader) load(ctx context.Context) (*Model, error) {
	m := &Model{Run: l.run, LoadedAt: l.opts.Now().UTC(), Narrow: len(l.opts.Indexes) > 0 || len(l.opts.ShopIDs) > 0}
	l.m = m
	rec, err := ReadRecord(ctx, l.st, RecordKey(l.run))
	switch {
	case err == nil:
		m.Record = rec
	case l.opts.RequireRecord:
		return nil, err
	case !errors.Is(err, store.ErrNotFound):
		l.opts.Log.Warn("run.json unreadable", "run", l.run, "err", err)
	}
	mkey := manifest.Key(l.run)
	if rec != nil && rec.Manifest != "" {
		mkey = rec.Manifest
	}
	l.rows, m.Manifest, err = manifest.ReadAll(ctx, l.st, mkey)
	if err != nil {
		return nil, err
	}
	want, err := SelectIndexes(l.rows, l.opts.Indexes, l.opts.ShopIDs)
	if err != nil {
		return nil, err
	}
	m.Steps = l.opts.Steps
	if m.Steps == nil {
		m.Steps = stepsOf(rec)
	}
	keys, err := l.readReruns(ctx)
	if err != nil {
		return nil, err
	}
	l.attempts = map[attemptKey]*Attempt{}
	if err := l.readEngine(ctx, want); err != nil {
		return nil, err
	}
	if m.Narrow {
		keys = l.narrowKeys(want)
	}
	if err := l.readResults(ctx, keys); err != nil {
		return nil, err
	}
	l.addSubmitted()
	l.fold(want)
	return m, nil
}

// stepsOf derives the graph from run.json: stages in the order its groups
// name them, dependencies from its jobs' DependsOn.
func stepsOf(rec *Record) []Step {
	if rec == nil {
		return nil
	}
	var out []Step
	at := map[string]int{}
	for _, g := range rec.Groups {
		for _, s := range g.Stages {
			if _, ok := at[s]; !ok {
				at[s] = len(out)
				out = append(out, Step{Name: s})
			}
		}
	}
	stageOf := map[string]string{}
	for _, j := range rec.Jobs {
		stageOf[j.Name] = j.Stage
	}
	for _, j := range rec.Jobs {
		i, ok := at[j.Stage]
		if !ok {
			continue
		}
		for _, d := range j.DependsOn {
			if s := stageOf[d]; s != "" && !slices.Contains(out[i].After, s) {
				out[i].After = append(out[i].After, s)
			}
		}
	}
	return out
}

var resultKeyRE = regexp.MustCompile(`^runs/[^/]+/(?:reruns/([0-9]+)/)?results/([^/]+)/([0-9]+)\.json$`)

// resultRef is a result record to read.
type resultRef struct {
	key string
	attemptKey
}

// readReruns finds the re-runs and (for a full model) every result record
// with one listing of runs/<run>/; a narrow model reads the re-run records
// in order instead.
func (l *loader) readReruns(ctx context.Context) ([]resultRef, error) {
	var refs []resultRef
	found := map[int]bool{}
	if l.m.Narrow {
		recs, err := Reruns(ctx, l.st, l.run)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if err := l.addRerun(ctx, r.Rerun, r); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	prefix := RunDir(l.run) + "/"
	err := l.st.List(ctx, prefix, func(info store.Info) error {
		if mm := resultKeyRE.FindStringSubmatch(info.Key); mm != nil {
			k, _ := strconv.Atoi(cmp.Or(mm[1], "0"))
			idx, err := strconv.ParseInt(mm[3], 10, 64)
			if err == nil && l.m.StageIndex(mm[2]) >= 0 {
				refs = append(refs, resultRef{info.Key, attemptKey{k, mm[2], idx}})
			}
			return nil
		}
		rest, ok := strings.CutPrefix(info.Key, prefix+"reruns/")
		if k, tail, ok2 := strings.Cut(rest, "/"); ok && ok2 && (tail == "manifest.parquet" || tail == "run.json") {
			if n, err := strconv.Atoi(k); err == nil && n > 0 {
				found[n] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	for _, k := range slices.Sorted(maps.Keys(found)) {
		rec, err := ReadRecord(ctx, l.st, RerunRecordKey(l.run, k))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			l.opts.Log.Warn("re-run record unreadable", "rerun", k, "err", err)
		}
		if err := l.addRerun(ctx, k, rec); err != nil {
			l.opts.Log.Warn("re-run unreadable", "rerun", k, "err", err)
		}
	}
	return refs, nil
}

// addRerun adds re-run k; without its record, the lineage comes from the
// re-run's manifest.
func (l *loader) addRerun(ctx context.Context, k int, rec *Record) error {
	rr := Rerun{K: k, Record: rec}
	if rec != nil {
		origin, err := OriginIndexes(rec)
		if err != nil {
			return err
		}
		rr.origin, rr.Shops, rr.CreatedAt = origin, rec.Shops, rec.CreatedAt
		seen := map[string]bool{}
		for _, g := range rec.Groups {
			for _, s := range g.Stages {
				if !seen[s] && l.m.StageIndex(s) >= 0 {
					seen[s] = true
					rr.Stages = append(rr.Stages, s)
				}
			}
		}
		slices.SortFunc(rr.Stages, func(a, b string) int { return l.m.StageIndex(a) - l.m.StageIndex(b) })
	}
	if rec == nil || rec.Shops == 0 {
		rows, meta, err := manifest.ReadAll(ctx, l.st, manifest.RerunKey(l.run, strconv.Itoa(k)))
		if err != nil {
			return err
		}
		rr.origin = make(map[int64]int64, len(rows))
		for j, r := range rows {
			rr.origin[int64(j)] = r.OriginIndex
		}
		rr.Shops, rr.CreatedAt = int64(len(rows)), cmp.Or(rr.CreatedAt, meta.CreatedAt)
	}
	l.m.Reruns = append(l.m.Reruns, rr)
	return nil
}

// records are run.json and each re-run's record (nil where absent).
func (l *loader) records() []*Record {
	out := []*Record{l.m.Record}
	for _, rr := range l.m.Reruns {
		out = append(out, rr.Record)
	}
	return out
}

// origin maps index of re-run k (0: the daily run) to the daily run's.
func (l *loader) origin(k int, index int64) (int64, bool) {
	if k == 0 {
		return index, index >= 0 && index < int64(len(l.rows))
	}
	for _, rr := range l.m.Reruns {
		if rr.K == k {
			o, ok := rr.origin[index]
			return o, ok
		}
	}
	return 0, false
}

// localIndexes are the indexes of rec's manifest whose origin is wanted.
func (l *loader) localIndexes(k int, want map[int64]bool) []int64 {
	var out []int64
	if k == 0 {
		out = slices.Collect(maps.Keys(want))
	} else {
		for _, rr := range l.m.Reruns {
			if rr.K != k {
				continue
			}
			for li, oi := range rr.origin {
				if want[oi] {
					out = append(out, li)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func (l *loader) wantSet(want []int64) map[int64]bool {
	s := make(map[int64]bool, len(want))
	for _, i := range want {
		s[i] = true
	}
	return s
}

// narrowKeys are the result records of the wanted shops in every record.
func (l *loader) narrowKeys(want []int64) []resultRef {
	set := l.wantSet(want)
	var refs []resultRef
	for _, rec := range l.records() {
		if rec == nil {
			continue
		}
		local := l.localIndexes(rec.Rerun, set)
		for _, j := range rec.Jobs {
			if l.m.StageIndex(j.Stage) < 0 {
				continue
			}
			for _, li := range local {
				if j.Contains(li) {
					refs = append(refs, resultRef{stages.ResultKey(rec.Manifest, j.Stage, li), attemptKey{rec.Rerun, j.Stage, li}})
				}
			}
		}
	}
	return refs
}

// readEngine asks the engine about every submitted job (a narrow model:
// only the wanted children). The first error ends the asking: the model
// then comes from result records alone.
func (l *loader) readEngine(ctx context.Context, want []int64) error {
	if l.opts.Engine == nil {
		return nil
	}
	set := l.wantSet(want)
	for _, rec := range l.records() {
		if rec == nil {
			continue
		}
		var local []int64
		if l.m.Narrow {
			local = l.localIndexes(rec.Rerun, set)
		}
		for _, j := range rec.Jobs {
			if j.JobID == "" || l.m.StageIndex(j.Stage) < 0 {
				continue
			}
			var idx []int64
			if l.m.Narrow {
				for _, li := range local {
					if j.Contains(li) {
						idx = append(idx, li)
					}
				}
				if len(idx) == 0 {
					continue
				}
			}
			children, err := l.opts.Engine.Children(ctx, j, idx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				l.opts.Log.Warn("engine not available; the run's state comes from result records only", "err", err)
				l.m.EngineError = err.Error()
				return nil
			}
			for _, c := range children {
				a := l.attempt(attemptKey{rec.Rerun, j.Stage, c.Index})
				a.Engine = &c
				a.JobID = cmp.Or(c.JobID, a.JobID)
			}
		}
	}
	return nil
}

func (l *loader) attempt(k attemptKey) *Attempt {
	a := l.attempts[k]
	if a == nil {
		a = &Attempt{Rerun: k.rerun, Index: k.index}
		l.attempts[k] = a
	}
	return a
}

// readResults reads the result records, a bounded number at once. A missing
// record is no record; an unreadable one is logged and left out.
func (l *loader) readResults(ctx context.Context, refs []resultRef) error {
	results := make([]*stages.Result, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.opts.Concurrency)
	for i, r := range refs {
		g.Go(func() error {
			res, err := ReadResult(gctx, l.st, r.key)
			switch {
			case err == nil:
				results[i] = res
			case gctx.Err() != nil:
				return gctx.Err()
			case !errors.Is(err, store.ErrNotFound):
				l.opts.Log.Warn("result record unreadable", "key", r.key, "err", err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	for i, r := range refs {
		if results[i] != nil {
			a := l.attempt(r.attemptKey)
			a.Result = results[i]
			a.JobID = cmp.Or(a.JobID, results[i].JobID)
		}
	}
	return nil
}

// addSubmitted adds the children a re-run submitted that nobody has
// reported on yet (the daily run's are implied by a story without
// attempts), and fills in job ids from run.json: array children are
// <parent>:<index - offset>.
func (l *loader) addSubmitted() {
	for _, rr := range l.m.Reruns {
		if rr.Record == nil {
			continue
		}
		for _, g := range rr.Record.Groups {
			for _, s := range g.Stages {
				if l.m.StageIndex(s) < 0 {
					continue
				}
				for j := g.Offset; j < g.Offset+g.Size && j < rr.Shops; j++ {
					if _, ok := rr.origin[j]; ok {
						l.attempt(attemptKey{rr.K, s, j})
					}
				}
			}
		}
	}
	recs := l.records()
	for k, a := range l.attempts {
		if a.JobID != "" || k.rerun >= len(recs) || recs[k.rerun] == nil {
			continue
		}
		for _, j := range recs[k.rerun].Jobs {
			if j.Stage == k.stage && j.JobID != "" && j.Contains(k.index) {
				a.JobID = j.ChildID(k.index)
				break
			}
		}
	}
}

// fold puts every attempt into its shop's story and decides each story's
// state.
func (l *loader) fold(want []int64) {
	m := l.m
	pos := make(map[int64]int, len(want))
	for _, i := range want {
		r := l.rows[i]
		sh := Shop{Index: i, ShopID: r.ShopID, Name: r.Name, Platforms: r.Platforms, Stories: make([]Story, len(m.Steps))}
		for si, s := range m.Steps {
			sh.Stories[si].Stage = s.Name
		}
		pos[i] = len(m.Shops)
		m.Shops = append(m.Shops, sh)
	}
	keys := slices.SortedFunc(maps.Keys(l.attempts), func(a, b attemptKey) int {
		return cmp.Or(a.rerun-b.rerun, cmp.Compare(a.index, b.index))
	})
	for _, k := range keys {
		o, ok := l.origin(k.rerun, k.index)
		if !ok {
			l.opts.Log.Warn("a child of an index the manifest does not have", "rerun", k.rerun, "stage", k.stage, "index", k.index)
			continue
		}
		p, ok := pos[o]
		if !ok {
			continue
		}
		a := l.attempts[k]
		a.State = attemptState(a)
		si := m.StageIndex(k.stage)
		m.Shops[p].Stories[si].History = append(m.Shops[p].Stories[si].History, *a)
	}
	for i := range m.Shops {
		foldShop(m.Steps, &m.Shops[i])
	}
}

// attemptState is the engine's word when it has one (it knows about a retry
// in progress), else the record's, else Pending (submitted, unreported).
func attemptState(a *Attempt) State {
	if a.Engine != nil {
		if s := FromBatch(a.Engine.Status, a.Engine.Reason); s != Unknown {
			return s
		}
	}
	if a.Result != nil {
		if a.Result.Status == stages.StatusSucceeded {
			return Succeeded
		}
		return Failed
	}
	return Pending
}

// foldShop decides each story's state in graph order: a finished latest
// attempt decides; otherwise a failed, skipped or cancelled upstream stage
// means skipped, an unfinished one pending (waiting), and with nothing in
// the way the latest attempt's state, or running when nobody reported.
func foldShop(steps []Step, sh *Shop) {
	for si, step := range steps {
		s := &sh.Stories[si]
		if a := s.Latest(); a != nil && a.State.Terminal() {
			s.State = a.State
			continue
		}
		s.State = ""
		for _, up := range step.After {
			ui := slices.IndexFunc(steps, func(x Step) bool { return x.Name == up })
			if ui < 0 {
				continue
			}
			switch sh.Stories[ui].State {
			case Failed, Skipped, Cancelled:
				s.State, s.Waiting = Skipped, false
			case Succeeded:
			default:
				if s.State != Skipped {
					s.State, s.Waiting = Pending, true
				}
			}
		}
		if s.State != "" {
			continue
		}
		s.State = Running
		if a := s.Latest(); a != nil && a.Engine != nil && a.State == Pending {
			s.State = Pending
		}
	}
}

// SelectIndexes turns an index/shop selection into sorted daily indexes
// (everything when both are empty).
func SelectIndexes(rows []manifest.Row, indexes []int64, shopIDs []string) ([]int64, error) {
	if len(indexes) == 0 && len(shopIDs) == 0 {
		out := make([]int64, len(rows))
		for i := range out {
			out[i] = int64(i)
		}
		return out, nil
	}
	var out []int64
	for _, i := range indexes {
		if i < 0 || i >= int64(len(rows)) {
			return nil, fmt.Errorf("index %d: %w (the run has %d shops)", i, manifest.ErrIndexOutOfRange, len(rows))
		}
		out = append(out, i)
	}
	if len(shopIDs) > 0 {
		byID := make(map[string]int64, len(rows))
		for _, r := range rows {
			byID[r.ShopID] = r.Index
		}
		for _, id := range shopIDs {
			i, ok := byID[id]
			if !ok {
				return nil, fmt.Errorf("shop %q: %w in the run's manifest", id, store.ErrNotFound)
			}
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ReadResult reads the result record at key.
func ReadResult(ctx context.Context, st store.Store, key string) (*stages.Result, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var r stages.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &r, nil
}
