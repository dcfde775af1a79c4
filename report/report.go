// Package report writes the run report: runs/<run>/report.html, one static,
// self-contained page (inline CSS and JavaScript, no external assets) that
// shows a run at a glance. It works opened from a file or from S3, and stays
// usable at 10,000 shops: the shop data is embedded as compact JSON and the
// grid is drawn client-side, only the visible rows at a time.
//
// Inputs: the run's manifest, the result records of every child of the run
// and of its re-runs (folded into each shop's story; the latest outcome
// wins), and run.json when present.
package report

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/stages/platform"
	"github.com/feedbatch/feedbatch/store"
)

// Key is the store key of a run's report.
func Key(runID string) string { return "runs/" + runID + "/report.html" }

// Outcome of one shop in one stage, as the grid colours it.
const (
	Succeeded  = "succeeded"
	Failed     = "failed"
	Skipped    = "skipped"     // no result, and an upstream stage failed or was skipped
	Running    = "running"     // no result yet, upstream succeeded (or none): running or queued
	NotStarted = "not started" // no result yet, upstream not finished
)

// stateCode is the one-letter form of an outcome in the embedded JSON.
var stateCode = map[string]byte{Succeeded: 's', Failed: 'f', Skipped: 'k', Running: 'r', NotStarted: 'n'}

// Options adjust WriteWith. The zero value is what Write uses.
type Options struct {
	// Logger receives warnings about unreadable records (default: discard).
	Logger *slog.Logger
	// Graph is the stage graph (default all.Graph()).
	Graph []stages.Node
	// LogHref, if set, returns a link to the log of the child that wrote
	// res (relative to runs/<run>/, e.g. the local engine's log file), or ""
	// when there is none.
	LogHref func(res stages.Result) string
	// LogLinks, if set, is called once with every child that left a result
	// record and returns links to their logs (relative to runs/<run>/), for
	// sources that answer in batches (DescribeJobs takes 100 jobs a call).
	// An error leaves the page without log links; it is logged.
	LogLinks func(ctx context.Context, refs []LogRef) (map[LogRef]string, error)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ChildStates, if set, returns what the engine knows of the run's
	// children; it fills in the children that left no result record (killed,
	// timed out, not started yet). An error leaves them out; it is logged.
	ChildStates func(ctx context.Context) ([]ChildState, error)
	// Concurrency is how many result records are read at once (default 32).
	Concurrency int
}

// Write builds the report of runID from st and stores it at Key(runID). It
// returns the key. Writing again refreshes the report.
func Write(ctx context.Context, st store.Store, runID string) (key string, err error) {
	return WriteWith(ctx, st, runID, Options{})
}

// WriteWith is Write with options.
func WriteWith(ctx context.Context, st store.Store, runID string, opts Options) (string, error) {
	rep, err := Build(ctx, st, runID, opts)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := rep.Render(&buf); err != nil {
		return "", err
	}
	key := Key(runID)
	po := &store.PutOptions{ContentType: "text/html; charset=utf-8", CacheControl: "no-cache"}
	if err := st.Put(ctx, key, &buf, po); err != nil {
		return "", fmt.Errorf("report %s: %w", runID, err)
	}
	return key, nil
}

// ChildState is the engine's view of one child of the run or a re-run.
type ChildState struct {
	// Rerun is 0 for the daily run, k for re-run k.
	Rerun int
	Stage string
	// Index is the child's index in its run's manifest.
	Index int64
	// Status is an AWS Batch job status (SUBMITTED ... FAILED), or SKIPPED
	// for a child failed because its dependency failed.
	Status   string
	Reason   string
	ExitCode *int32
	JobID    string
	// Attempts is the number of attempts so far.
	Attempts int
}

// LogRef names the attempt of a child (Attempt 0: its latest attempt).
type LogRef struct {
	JobID   string
	Attempt int
}

// Report is everything the page shows.
type Report struct {
	RunID       string
	GeneratedAt time.Time
	CreatedAt   time.Time
	Engine      string
	Version     string
	State       string
	Reruns      []Rerun
	Stages      []string
	After       map[string][]string
	Shops       []Shop
	Totals      []StageTotals
	Platforms   []PlatformTotals
	Reasons     []Reason
	// Failed is the number of shops with at least one failed stage.
	Failed int
}

// Rerun is one re-run of the run.
type Rerun struct {
	K         int
	Shops     int
	CreatedAt time.Time
	Stages    []string
}

// Shop is one shop's story: its outcome in each stage and every attempt.
type Shop struct {
	Index     int64
	ID        string
	Name      string
	Platforms []string
	// States[i] is the outcome in Stages[i].
	States []string
	// History[i] lists the attempts in Stages[i], oldest first (origin run,
	// then re-runs in order).
	History [][]Attempt
	// Feeds are the published feed keys of the latest successful feed.
	Feeds []string
}

// Attempt is one result record (or a re-run submission without one yet).
type Attempt struct {
	// Rerun is 0 for the daily run, k for re-run k.
	Rerun int
	// Index is the child's index in its manifest.
	Index int64
	// Pending is true for a submitted child with no result record yet.
	Pending bool
	// Engine is the engine's job status when the attempt comes from the
	// engine, not from a result record ("FAILED", "RUNNING", "RUNNABLE").
	Engine  string
	Result  stages.Result
	LogHref string
}

// StageTotals are one stage's counts and durations (latest attempts).
type StageTotals struct {
	Stage                    string
	Counts                   map[string]int
	Finished                 int
	Sum, P50, P95, Max       time.Duration
	ItemsIn, ItemsOut, Bytes int64
	Dropped                  int64
	Retried                  int // shops whose latest attempt was not the first
}

// PlatformTotals are the feed stage's figures for one platform.
type PlatformTotals struct {
	Platform  string
	Shops     int
	Published int64
	Dropped   int64
	Reasons   []Count
}

// Count is a named number.
type Count struct {
	Name string
	N    int64
}

// Reason is a failure reason shared by shops of one stage.
type Reason struct {
	Stage   string
	Message string
	Shops   int
	Example string // a shop id
}

var resultKeyRE = regexp.MustCompile(`^runs/[^/]+/(?:reruns/([0-9]+)/)?results/([^/]+)/([0-9]+)\.json$`)

// Build reads the run from st.
func Build(ctx context.Context, st store.Store, runID string, opts Options) (*Report, error) {
	if runID == "" || strings.Contains(runID, "/") || store.CheckKey("runs/"+runID) != nil {
		return nil, fmt.Errorf("report: invalid run id %q", runID)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Graph == nil {
		opts.Graph = all.Graph()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 32
	}
	log := opts.Logger.With("run", runID)

	rows, meta, err := manifest.ReadAll(ctx, st, manifest.Key(runID))
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", runID, err)
	}
	rep := &Report{RunID: runID, GeneratedAt: opts.Now().UTC(), CreatedAt: meta.CreatedAt, After: map[string][]string{}}
	jobsOf := map[int][]recordJob{} // run (0) or re-run k -> submitted jobs
	if rec, err := readRecord(ctx, st, "runs/"+runID+"/run.json"); err == nil {
		jobsOf[0] = rec.Jobs
		rep.Engine, rep.Version, rep.State = rec.Engine, rec.Version, rec.State
		if rep.CreatedAt.IsZero() {
			rep.CreatedAt = rec.CreatedAt
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		log.Warn("run.json unreadable", "err", err)
	}
	stageIdx := map[string]int{}
	for i, n := range opts.Graph {
		rep.Stages = append(rep.Stages, n.Stage.Name())
		rep.After[n.Stage.Name()] = n.After
		stageIdx[n.Stage.Name()] = i
	}

	byOrigin := make(map[int64]int, len(rows)) // origin index -> position in rep.Shops
	for i, r := range rows {
		rep.Shops = append(rep.Shops, Shop{
			Index: r.Index, ID: r.ShopID, Name: r.Name, Platforms: r.Platforms,
			States: make([]string, len(rep.Stages)), History: make([][]Attempt, len(rep.Stages)),
		})
		byOrigin[r.Index] = i
	}

	// One listing finds every result record and re-run manifest.
	type recKey struct {
		key   string
		rerun int
		stage string
		index int64
	}
	var recs []recKey
	rerunSet := map[int]bool{}
	err = st.List(ctx, "runs/"+runID+"/", func(info store.Info) error {
		if m := resultKeyRE.FindStringSubmatch(info.Key); m != nil {
			if _, ok := stageIdx[m[2]]; !ok {
				return nil
			}
			k, _ := strconv.Atoi(cmp.Or(m[1], "0"))
			idx, err := strconv.ParseInt(m[3], 10, 64)
			if err != nil {
				return nil
			}
			recs = append(recs, recKey{info.Key, k, m[2], idx})
			return nil
		}
		rest, ok := strings.CutPrefix(info.Key, "runs/"+runID+"/reruns/")
		if k, tail, ok2 := strings.Cut(rest, "/"); ok && ok2 && tail == "manifest.parquet" {
			if n, err := strconv.Atoi(k); err == nil && n > 0 {
				rerunSet[n] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report %s: list: %w", runID, err)
	}

	// Re-run manifests map their rows back to origin indexes.
	rerunOrigin := map[int][]int64{}  // k -> re-run index -> origin index
	type pendingSet map[[2]int64]bool // (stage index, re-run index)
	pending := map[int]pendingSet{}
	for _, k := range slices.Sorted(maps.Keys(rerunSet)) {
		ks := strconv.Itoa(k)
		rrows, rmeta, err := manifest.ReadAll(ctx, st, manifest.RerunKey(runID, ks))
		if err != nil {
			log.Warn("re-run manifest unreadable", "rerun", k, "err", err)
			continue
		}
		rr := Rerun{K: k, Shops: len(rrows), CreatedAt: rmeta.CreatedAt}
		m := make([]int64, len(rrows))
		for j, r := range rrows {
			m[j] = r.OriginIndex
		}
		rerunOrigin[k] = m
		if rec, err := readRecord(ctx, st, "runs/"+runID+"/reruns/"+ks+"/run.json"); err == nil {
			ps := pendingSet{}
			seen := map[string]bool{}
			for _, g := range rec.Groups {
				for _, s := range g.Stages {
					si, ok := stageIdx[s]
					if !ok {
						continue
					}
					if !seen[s] {
						seen[s] = true
						rr.Stages = append(rr.Stages, s)
					}
					for j := g.Offset; j < g.Offset+g.Size && j < int64(len(rrows)); j++ {
						ps[[2]int64{int64(si), j}] = true
					}
				}
			}
			slices.SortFunc(rr.Stages, func(a, b string) int { return stageIdx[a] - stageIdx[b] })
			pending[k] = ps
			jobsOf[k] = rec.Jobs
		}
		rep.Reruns = append(rep.Reruns, rr)
	}

	// Read the result records, a bounded number at once.
	results := make([]*stages.Result, len(recs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for i, rk := range recs {
		g.Go(func() error {
			res, err := readResult(gctx, st, rk.key)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				log.Warn("result record unreadable", "key", rk.key, "err", err)
				return nil
			}
			results[i] = res
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("report %s: read results: %w", runID, err)
	}

	// Result records written before the child knew its job id get it from
	// run.json: array child ids are <parent>:<index - offset>.
	for i, rk := range recs {
		if res := results[i]; res != nil && res.JobID == "" {
			res.JobID = childJobID(jobsOf[rk.rerun], rk.stage, rk.index)
		}
	}

	// What the engine knows, for children without a result record (killed,
	// timed out, never started, still running).
	type childKey struct {
		rerun int
		stage string
		index int64
	}
	have := make(map[childKey]bool, len(recs))
	for i, rk := range recs {
		if results[i] != nil {
			have[childKey{rk.rerun, rk.stage, rk.index}] = true
		}
	}
	var engineOnly []ChildState
	if opts.ChildStates != nil {
		states, err := opts.ChildStates(ctx)
		if err != nil {
			log.Warn("engine states unavailable; the report shows result records only", "err", err)
		}
		for _, cs := range states {
			if _, ok := stageIdx[cs.Stage]; !ok || have[childKey{cs.Rerun, cs.Stage, cs.Index}] {
				continue
			}
			if cs.Rerun > 0 {
				delete(pending[cs.Rerun], [2]int64{int64(stageIdx[cs.Stage]), cs.Index})
			}
			engineOnly = append(engineOnly, cs)
		}
	}

	var links map[LogRef]string
	if opts.LogLinks != nil {
		seen := map[LogRef]bool{}
		var refs []LogRef
		add := func(ref LogRef) {
			if ref.JobID != "" && !seen[ref] {
				seen[ref] = true
				refs = append(refs, ref)
			}
		}
		for _, res := range results {
			if res != nil {
				add(LogRef{res.JobID, res.Attempt})
			}
		}
		for _, cs := range engineOnly {
			add(LogRef{cs.JobID, cs.Attempts}) // Attempts 0: the latest
		}
		if links, err = opts.LogLinks(ctx, refs); err != nil {
			log.Warn("no log links", "err", err)
		}
	}

	// originPos finds the shop a child of run (0) or re-run k belongs to.
	originPos := func(k int, index int64) (int, bool) {
		origin := index
		if k > 0 {
			m := rerunOrigin[k]
			if index < 0 || index >= int64(len(m)) {
				return 0, false
			}
			origin = m[index]
		}
		pos, ok := byOrigin[origin]
		return pos, ok
	}

	// Fold every record into its origin shop's story.
	for i, rk := range recs {
		res := results[i]
		if res == nil {
			continue
		}
		if rk.rerun > 0 {
			delete(pending[rk.rerun], [2]int64{int64(stageIdx[rk.stage]), rk.index})
		}
		pos, ok := originPos(rk.rerun, rk.index)
		if !ok {
			log.Warn("result of an index the manifest does not have", "key", rk.key)
			continue
		}
		a := Attempt{Rerun: rk.rerun, Index: rk.index, Result: *res}
		if opts.LogHref != nil {
			a.LogHref = safeHref(opts.LogHref(*res))
		}
		if l := links[LogRef{res.JobID, res.Attempt}]; l != "" {
			a.LogHref = safeHref(l)
		}
		si := stageIdx[rk.stage]
		rep.Shops[pos].History[si] = append(rep.Shops[pos].History[si], a)
	}
	for _, cs := range engineOnly {
		pos, ok := originPos(cs.Rerun, cs.Index)
		if !ok {
			continue
		}
		a := Attempt{Rerun: cs.Rerun, Index: cs.Index, Engine: cs.Status, Result: stages.Result{
			Stage: cs.Stage, Index: cs.Index, JobID: cs.JobID, Attempt: cs.Attempts,
		}}
		switch cs.Status {
		case "SUCCEEDED":
			a.Result.Status = stages.StatusSucceeded
		case "FAILED":
			a.Result.Status = stages.StatusFailed
			a.Result.Error = cmp.Or(cs.Reason, "failed")
			if cs.ExitCode != nil {
				a.Result.Error += fmt.Sprintf(" (exit code %d)", *cs.ExitCode)
			}
		case "SKIPPED":
			continue // the upstream failure shows it
		default:
			a.Pending = true
		}
		if l := links[LogRef{cs.JobID, cs.Attempts}]; l != "" {
			a.LogHref = safeHref(l)
		}
		si := stageIdx[cs.Stage]
		rep.Shops[pos].History[si] = append(rep.Shops[pos].History[si], a)
	}
	for k, ps := range pending {
		for p := range ps {
			si, j := int(p[0]), p[1]
			if pos, ok := originPos(k, j); ok {
				rep.Shops[pos].History[si] = append(rep.Shops[pos].History[si], Attempt{Rerun: k, Index: j, Pending: true})
			}
		}
	}
	for _, name := range rep.Stages {
		rep.Totals = append(rep.Totals, StageTotals{Stage: name, Counts: map[string]int{}})
	}
	for i := range rep.Shops {
		rep.fold(&rep.Shops[i], stageIdx)
	}
	rep.summarise(stageIdx)
	return rep, nil
}

// fold orders a shop's attempts and decides its outcome in every stage.
func (rep *Report) fold(s *Shop, stageIdx map[string]int) {
	failed := false
	for si, name := range rep.Stages {
		h := s.History[si]
		slices.SortStableFunc(h, func(a, b Attempt) int {
			if a.Rerun != b.Rerun {
				return a.Rerun - b.Rerun
			}
			return a.Result.StartedAt.Compare(b.Result.StartedAt)
		})
		state := ""
		if n := len(h); n > 0 && !h[n-1].Pending {
			state = Failed
			if h[n-1].Result.Status == stages.StatusSucceeded {
				state = Succeeded
			}
		} else {
			state = Running
			for _, up := range rep.After[name] {
				ui, ok := stageIdx[up]
				if !ok {
					continue
				}
				switch s.States[ui] {
				case Failed, Skipped:
					state = Skipped
				case Running, NotStarted:
					if state != Skipped {
						state = NotStarted
					}
				}
			}
		}
		s.States[si] = state
		if state == Failed {
			failed = true
		}
		if name == "feed" {
			for j := len(h) - 1; j >= 0; j-- {
				if !h[j].Pending && h[j].Result.Status == stages.StatusSucceeded {
					for _, o := range h[j].Result.Outputs {
						if strings.HasPrefix(o, "shops/") && strings.Contains(o, "/feeds/") && strings.HasSuffix(o, ".gz") {
							s.Feeds = append(s.Feeds, o)
						}
					}
					break
				}
			}
		}
	}
	if failed {
		rep.Failed++
	}
}

// summarise computes the per-stage, per-platform and per-reason tables.
func (rep *Report) summarise(stageIdx map[string]int) {
	type reasonAcc struct {
		shops   int
		example string
	}
	reasons := map[[2]string]*reasonAcc{}
	plat := map[string]*PlatformTotals{}
	platReasons := map[string]map[string]int64{}
	durs := make([][]time.Duration, len(rep.Stages))
	for _, s := range rep.Shops {
		for si, state := range s.States {
			t := &rep.Totals[si]
			t.Counts[state]++
			h := s.History[si]
			if state != Succeeded && state != Failed {
				continue
			}
			last := h[len(h)-1].Result
			t.Finished++
			d := time.Duration(last.DurationMS) * time.Millisecond
			durs[si] = append(durs[si], d)
			t.Sum += d
			t.ItemsIn += last.ItemsIn
			t.ItemsOut += last.ItemsOut
			t.Bytes += last.Bytes
			if len(h) > 1 || last.Attempt > 1 {
				t.Retried++
			}
			for _, n := range last.Dropped {
				t.Dropped += n
			}
			if state == Failed {
				msg := reasonText(last.Error, rep.Stages[si], s.ID)
				k := [2]string{rep.Stages[si], msg}
				if reasons[k] == nil {
					reasons[k] = &reasonAcc{example: s.ID}
				}
				reasons[k].shops++
			}
			for _, f := range platform.FromResult(last) {
				pt := platTotals(plat, f.Platform)
				if platReasons[f.Platform] == nil {
					platReasons[f.Platform] = map[string]int64{}
				}
				for r, n := range f.Dropped {
					pt.Dropped += n
					platReasons[f.Platform][r] += n
				}
				if state == Succeeded && f.Rendered {
					pt.Shops++
					pt.Published += f.Items
				}
			}
		}
	}
	for si := range rep.Totals {
		d := durs[si]
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		t := &rep.Totals[si]
		t.P50 = d[(len(d)-1)*50/100]
		t.P95 = d[(len(d)-1)*95/100]
		t.Max = d[len(d)-1]
	}
	for _, p := range slices.Sorted(maps.Keys(plat)) {
		pt := plat[p]
		for r, n := range platReasons[p] {
			pt.Reasons = append(pt.Reasons, Count{r, n})
		}
		slices.SortFunc(pt.Reasons, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), strings.Compare(a.Name, b.Name)) })
		rep.Platforms = append(rep.Platforms, *pt)
	}
	for k, acc := range reasons {
		rep.Reasons = append(rep.Reasons, Reason{Stage: k[0], Message: k[1], Shops: acc.shops, Example: acc.example})
	}
	slices.SortFunc(rep.Reasons, func(a, b Reason) int {
		return cmp.Or(b.Shops-a.Shops, stageIdx[a.Stage]-stageIdx[b.Stage], strings.Compare(a.Message, b.Message))
	})
}

func platTotals(m map[string]*PlatformTotals, p string) *PlatformTotals {
	if m[p] == nil {
		m[p] = &PlatformTotals{Platform: p}
	}
	return m[p]
}

// reasonText strips the "<stage> shop <id>: " prefix that stages.Execute
// puts on errors, so that shops failing for the same reason group together.
func reasonText(msg, stage, shop string) string {
	msg = strings.TrimPrefix(msg, stage+" shop "+shop+": ")
	msg = strings.ReplaceAll(msg, shop, "<shop>")
	if msg == "" {
		msg = "(no error message)"
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

// recordJob is one submitted job of run.json.
type recordJob struct {
	Stage  string `json:"stage"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	JobID  string `json:"job_id"`
}

// childJobID is the Batch job id of the child that ran index in stage.
func childJobID(jobs []recordJob, stage string, index int64) string {
	for _, j := range jobs {
		if j.Stage != stage || j.JobID == "" || index < j.Offset || index >= j.Offset+j.Size {
			continue
		}
		if j.Size < 2 {
			return j.JobID
		}
		return j.JobID + ":" + strconv.FormatInt(index-j.Offset, 10)
	}
	return ""
}

// record is the part of run.json the report shows. run.json is optional.
type record struct {
	Jobs      []recordJob `json:"jobs"`
	State     string      `json:"state"`
	Engine    string      `json:"engine"`
	Version   string      `json:"version"`
	CreatedAt time.Time   `json:"created_at"`
	Groups    []struct {
		Offset int64    `json:"offset"`
		Size   int64    `json:"size"`
		Stages []string `json:"stages"`
	} `json:"groups"`
}

func readRecord(ctx context.Context, st store.Store, key string) (*record, error) {
	var r record
	if err := readJSON(ctx, st, key, 64<<20, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func readResult(ctx context.Context, st store.Store, key string) (*stages.Result, error) {
	var r stages.Result
	if err := readJSON(ctx, st, key, 16<<20, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func readJSON(ctx context.Context, st store.Store, key string, limit int64, v any) error {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit))
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

// relFromReport turns a store key into a link relative to
// runs/<run>/report.html, with each segment escaped.
func relFromReport(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "../../" + path.Join(segs...)
}

// safeHref keeps relative links and http(s)/file URLs; anything else
// (javascript:, data:) becomes "".
func safeHref(h string) string {
	u, err := url.Parse(h)
	if err != nil {
		return ""
	}
	switch u.Scheme {
	case "", "http", "https", "file":
		return h
	}
	return ""
}
