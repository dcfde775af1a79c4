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
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/feedbatch/feedbatch/engine"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/platform"
	"github.com/feedbatch/feedbatch/store"
)

// Key is the store key of a run's report.
func Key(runID string) string { return "runs/" + runID + "/report.html" }

// Outcome of one shop in one stage, as the grid colours it: the run
// model's states (runs.State), with pending split into running (queued,
// nothing in its way) and not started (waiting for an upstream stage), and
// cancelled shown as failed.
const (
	Succeeded  = string(runs.Succeeded)
	Failed     = string(runs.Failed)
	Skipped    = string(runs.Skipped) // an upstream stage failed or was skipped
	Running    = string(runs.Running) // no result yet, upstream succeeded (or none): running or queued
	NotStarted = "not started"        // no result yet, upstream not finished
)

// stateCode is the one-letter form of an outcome in the embedded JSON.
var stateCode = map[string]byte{Succeeded: 's', Failed: 'f', Skipped: 'k', Running: 'r', NotStarted: 'n'}

// Options adjust WriteWith. The zero value is what Write uses.
type Options struct {
	// Logger receives warnings about unreadable records (default: discard).
	Logger *slog.Logger
	// Steps is the stage graph (default: the one run.json records).
	Steps []runs.Step
	// Engine, if set, is asked about the run's children; it fills in the
	// children that left no result record (killed, timed out, not started
	// yet). An error leaves them out; it is logged.
	Engine runs.Engine
	// LogHref, if set, returns a link to the log of the child that wrote
	// res (relative to runs/<run>/, e.g. the local engine's log file), or ""
	// when there is none.
	LogHref func(res stages.Result) string
	// LogLinks, if set, is called once with every child that left a result
	// record and returns links to their logs (relative to runs/<run>/), for
	// sources that answer in batches (DescribeJobs takes 100 jobs a call).
	// An error leaves the page without log links; it is logged.
	LogLinks func(ctx context.Context, refs []LogRef) (map[LogRef]string, error)
	// CopyLogs, if set, is called once with the logs of the failed
	// children (each failed story's latest attempt, at most MaxCopiedLogs)
	// and copies each to its Key under runs/<run>/logs/, so that the link
	// works wherever the run's prefix is copied or uploaded. It returns the
	// keys it copied; the others show a `feedbatch logs` command only. An
	// error leaves the uncopied logs unlinked; it is logged.
	CopyLogs func(ctx context.Context, logs []FailedLog) (copied map[string]bool, err error)
	// Now is the clock (default time.Now).
	Now func() time.Time
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
	return put(ctx, st, rep)
}

// WriteModel writes the report of a run model already read (the model's
// engine and records are used; opts.Engine, Steps and Concurrency are not),
// so that a caller that also needs the summary reads the run once.
func WriteModel(ctx context.Context, st store.Store, m *runs.Model, opts Options) (string, error) {
	return put(ctx, st, FromModel(ctx, m, opts))
}

func put(ctx context.Context, st store.Store, rep *Report) (string, error) {
	var buf bytes.Buffer
	if err := rep.Render(&buf); err != nil {
		return "", err
	}
	key := Key(rep.RunID)
	po := &store.PutOptions{ContentType: "text/html; charset=utf-8", CacheControl: "no-cache"}
	if err := st.Put(ctx, key, &buf, po); err != nil {
		return "", fmt.Errorf("report %s: %w", rep.RunID, err)
	}
	return key, nil
}

// LogRef names the attempt of a child (Attempt 0: its latest attempt).
type LogRef struct {
	JobID   string
	Attempt int
}

// MaxCopiedLogs is how many failed children's logs a report copies.
const MaxCopiedLogs = 500

// FailedLog is the log of a failed child to copy under the run's prefix.
type FailedLog struct {
	Ref   LogRef
	Stage string
	// Index is the shop's daily-run index; Rerun the re-run (0: the daily
	// run) whose child failed.
	Index int64
	Rerun int
	// Key is where the copy goes: LogKey(run, Stage, Index, Rerun).
	Key string
}

// LogKey is where a report copies the log of a failed child:
// runs/<run>/logs/<stage>/<daily index>.log, or <daily index>.rerun-<k>.log
// for re-run k.
func LogKey(run, stage string, index int64, rerun int) string {
	name := strconv.FormatInt(index, 10)
	if rerun > 0 {
		name += ".rerun-" + strconv.Itoa(rerun)
	}
	return runs.RunDir(run) + "/logs/" + stage + "/" + name + ".log"
}

// Report is everything the page shows.
type Report struct {
	RunID       string
	GeneratedAt time.Time
	CreatedAt   time.Time
	Engine      string
	Version     string
	// State is the run's state as its shops' stories tell it: "running"
	// until every shop is final in every stage, then "succeeded", or
	// "failed" when some shop failed or was skipped in a stage.
	State string
	// Submission is run.json's state (planning, submitted): what the
	// planner did, not how the run went.
	Submission string
	// Start is the first child's start (else the submission), End the last
	// child's end once the run is finished.
	Start, End time.Time
	Duration   time.Duration
	// FailedShops counts the shops failed or skipped in at least one stage.
	FailedShops int
	// RerunFailed re-runs every failed shop ("" when none failed).
	RerunFailed string
	// Prev and Next are the day before and after, for a dated run id.
	Prev, Next Neighbour
	Reruns     []Rerun
	Stages     []string
	After      map[string][]string
	Shops      []Shop
	Totals     []StageTotals
	Platforms  []PlatformTotals
	Reasons    []Reason
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
	Platform string
	// Shops published the platform's feed; Failed did not (the rest of
	// their feed child may have published).
	Shops     int
	Failed    int
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
	Stage string
	// Message is the reason for people (lines joined by "; ").
	Message string
	Shops   int
	Example string // the first shop id
	// ShopIDs are every shop failing so, in index order; Indexes their
	// daily-run indexes in compact form ("3,17-19").
	ShopIDs []string
	Indexes string
	// Command re-runs these shops from the stage on.
	Command string
}

// Build reads the run from st (once: see runs.Load) and lays out the page.
func Build(ctx context.Context, st store.Store, runID string, opts Options) (*Report, error) {
	log := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	m, err := runs.Load(ctx, st, runID, runs.Options{
		Engine: opts.Engine, Steps: opts.Steps, Log: log, Concurrency: opts.Concurrency, Now: opts.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", runID, err)
	}
	return FromModel(ctx, m, opts), nil
}

// FromModel lays out the page of a run model: header, re-runs, each shop's
// story, then the totals.
func FromModel(ctx context.Context, m *runs.Model, opts Options) *Report {
	log := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)).With("run", m.Run)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	rep := &Report{RunID: m.Run, GeneratedAt: now().UTC(), CreatedAt: m.Manifest.CreatedAt, After: map[string][]string{}}
	if rec := m.Record; rec != nil {
		rep.Engine, rep.Version, rep.Submission = rec.Engine, rec.Version, rec.State
		rep.CreatedAt = cmp.Or(rep.CreatedAt, rec.CreatedAt)
	}
	sum := runs.BuildSummary(m)
	rep.Start, rep.End, rep.FailedShops, rep.RerunFailed = sum.Start, sum.End, sum.FailedShops, sum.RerunCommand
	if !rep.Start.IsZero() && !rep.End.IsZero() {
		rep.Duration = rep.End.Sub(rep.Start)
	}
	switch {
	case !sum.Finished:
		rep.State = "running"
	case sum.FailedShops > 0:
		rep.State = "failed"
	default:
		rep.State = "succeeded"
	}
	rep.Prev, rep.Next = neighbours(m.Run)
	stageIdx := map[string]int{}
	for i, s := range m.Steps {
		rep.Stages = append(rep.Stages, s.Name)
		rep.After[s.Name] = s.After
		stageIdx[s.Name] = i
	}
	for _, rr := range m.Reruns {
		rep.Reruns = append(rep.Reruns, Rerun{K: rr.K, Shops: int(rr.Shops), CreatedAt: rr.CreatedAt, Stages: rr.Stages})
	}
	for _, sh := range m.Shops {
		rep.Shops = append(rep.Shops, shopOf(sh))
	}
	rep.linkLogs(ctx, log, opts)
	rep.copyLogs(ctx, log, opts)
	for _, name := range rep.Stages {
		rep.Totals = append(rep.Totals, StageTotals{Stage: name, Counts: map[string]int{}})
	}
	for i := range rep.Shops {
		rep.fold(&rep.Shops[i])
	}
	rep.summarise(stageIdx)
	return rep
}

// displayState is the grid's word for a story's state.
func displayState(s runs.Story) string {
	switch s.State {
	case runs.Succeeded:
		return Succeeded
	case runs.Failed, runs.Cancelled:
		return Failed
	case runs.Skipped:
		return Skipped
	case runs.Pending:
		if s.Waiting {
			return NotStarted
		}
	}
	return Running
}

// shopOf is one shop's row: its state and attempts per stage. A child that
// never ran because its upstream failed shows no attempt (the upstream
// failure shows it).
func shopOf(sh runs.Shop) Shop {
	s := Shop{Index: sh.Index, ID: sh.ShopID, Name: sh.Name, Platforms: sh.Platforms,
		States: make([]string, len(sh.Stories)), History: make([][]Attempt, len(sh.Stories))}
	for si, story := range sh.Stories {
		s.States[si] = displayState(story)
		for _, a := range story.History {
			if at, ok := attemptOf(story.Stage, a); ok {
				s.History[si] = append(s.History[si], at)
			}
		}
	}
	return s
}

func attemptOf(stage string, a runs.Attempt) (Attempt, bool) {
	at := Attempt{Rerun: a.Rerun, Index: a.Index}
	switch {
	case a.Result != nil:
		at.Result = *a.Result
		at.Result.JobID = cmp.Or(at.Result.JobID, a.JobID)
	case a.Engine != nil:
		e := a.Engine
		at.Engine = e.Status
		at.Result = stages.Result{Stage: stage, Index: a.Index, JobID: a.JobID, Attempt: e.Attempts}
		switch a.State {
		case runs.Succeeded:
			at.Result.Status = stages.StatusSucceeded
		case runs.Failed, runs.Cancelled:
			at.Result.Status = stages.StatusFailed
			at.Result.Error = cmp.Or(e.Reason, "failed")
			if e.ExitCode != nil {
				at.Result.Error += fmt.Sprintf(" (exit code %d)", *e.ExitCode)
			}
		case runs.Skipped:
			return at, false
		default:
			at.Pending = true
		}
	default:
		at.Pending = true
	}
	return at, true
}

// linkLogs sets each attempt's log link: LogHref per record, LogLinks for
// every child the engine or a record knows, in one call.
func (rep *Report) linkLogs(ctx context.Context, log *slog.Logger, opts Options) {
	var links map[LogRef]string
	if opts.LogLinks != nil {
		seen := map[LogRef]bool{}
		var refs []LogRef
		for _, s := range rep.Shops {
			for _, h := range s.History {
				for _, a := range h {
					ref := LogRef{a.Result.JobID, a.Result.Attempt}
					if ref.JobID != "" && !seen[ref] && (!a.Pending || a.Engine != "") {
						seen[ref] = true
						refs = append(refs, ref)
					}
				}
			}
		}
		var err error
		if links, err = opts.LogLinks(ctx, refs); err != nil {
			log.Warn("no log links", "err", err)
		}
	}
	for i := range rep.Shops {
		for _, h := range rep.Shops[i].History {
			for j := range h {
				a := &h[j]
				if opts.LogHref != nil && a.Engine == "" && !a.Pending {
					a.LogHref = safeHref(opts.LogHref(a.Result))
				}
				if l := links[LogRef{a.Result.JobID, a.Result.Attempt}]; l != "" {
					a.LogHref = safeHref(l)
				}
			}
		}
	}
}

// fold counts the shop's failure and finds its published feeds (the latest
// successful feed's, or each platform published by a partly failed one).
func (rep *Report) fold(s *Shop) {
	failed := false
	for si, name := range rep.Stages {
		if s.States[si] == Failed {
			failed = true
		}
		if name != "feed" {
			continue
		}
		h := s.History[si]
		for j := len(h) - 1; j >= 0; j-- {
			r := h[j].Result
			if h[j].Pending || (r.Status != stages.StatusSucceeded && len(r.Platforms) == 0) {
				continue
			}
			for _, o := range r.Outputs {
				if strings.HasPrefix(o, "shops/") && strings.Contains(o, "/feeds/") && strings.HasSuffix(o, ".gz") {
					s.Feeds = append(s.Feeds, o)
				}
			}
			break
		}
	}
	if failed {
		rep.Failed++
	}
}

// summarise computes the per-stage, per-platform and per-reason tables
// from each shop's latest finished attempts.
func (rep *Report) summarise(stageIdx map[string]int) {
	t := tally{rep: rep, reasons: map[[2]string]*reasonAcc{}, plat: map[string]*PlatformTotals{},
		platReasons: map[string]map[string]int64{}, durs: make([][]time.Duration, len(rep.Stages))}
	for _, s := range rep.Shops {
		for si, state := range s.States {
			rep.Totals[si].Counts[state]++
			if state != Succeeded && state != Failed {
				continue
			}
			h := s.History[si]
			last := h[len(h)-1].Result
			t.stage(si, last, len(h))
			if state == Failed {
				t.reason(rep.Stages[si], s, last)
			}
			t.platforms(state, last)
		}
	}
	t.finish(stageIdx)
}

type reasonAcc struct {
	ids     []string
	indexes []int64
}

// tally accumulates the tables of summarise.
type tally struct {
	rep         *Report
	reasons     map[[2]string]*reasonAcc
	plat        map[string]*PlatformTotals
	platReasons map[string]map[string]int64
	durs        [][]time.Duration
}

// stage adds a finished attempt to its stage's totals.
func (t *tally) stage(si int, last stages.Result, attempts int) {
	tot := &t.rep.Totals[si]
	tot.Finished++
	d := time.Duration(last.DurationMS) * time.Millisecond
	t.durs[si] = append(t.durs[si], d)
	tot.Sum += d
	tot.ItemsIn += last.ItemsIn
	tot.ItemsOut += last.ItemsOut
	tot.Bytes += last.Bytes
	if attempts > 1 || last.Attempt > 1 {
		tot.Retried++
	}
	for _, n := range last.Dropped {
		tot.Dropped += n
	}
}

// reason adds a shop to its failure reason: the reason for people, the
// shop's id named <shop> so that shops failing alike group together.
func (t *tally) reason(stage string, s Shop, last stages.Result) {
	lines := errorLines(stage, s.ID, last)
	for i, l := range lines {
		lines[i] = reasonText(l, stage, s.ID)
	}
	k := [2]string{stage, cmp.Or(strings.Join(lines, "; "), "(no error message)")}
	acc := t.reasons[k]
	if acc == nil {
		acc = &reasonAcc{}
		t.reasons[k] = acc
	}
	acc.ids = append(acc.ids, s.ID)
	acc.indexes = append(acc.indexes, s.Index)
}

// platforms adds a result's per-platform figures (stages/platform reads
// them, whichever stage records them) and publish results: Result.Platforms
// where the child records it (each platform publishes on its own: a failed
// child may have published some), else the rendered figures of a
// successful child.
func (t *tally) platforms(state string, last stages.Result) {
	for _, f := range platform.FromResult(last) {
		pt := platTotals(t.plat, f.Platform)
		if t.platReasons[f.Platform] == nil {
			t.platReasons[f.Platform] = map[string]int64{}
		}
		for r, n := range f.Dropped {
			pt.Dropped += n
			t.platReasons[f.Platform][r] += n
		}
		if len(last.Platforms) == 0 && state == Succeeded && f.Rendered {
			pt.Shops++
			pt.Published += f.Items
		}
	}
	for p, pr := range last.Platforms {
		pt := platTotals(t.plat, p)
		if pr.Status == stages.PlatformPublished {
			pt.Shops++
			pt.Published += pr.Items
		} else {
			pt.Failed++
		}
	}
}

// finish sorts the tables and computes the duration percentiles.
func (t *tally) finish(stageIdx map[string]int) {
	rep := t.rep
	for si := range rep.Totals {
		d := t.durs[si]
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		tot := &rep.Totals[si]
		tot.P50 = d[(len(d)-1)*50/100]
		tot.P95 = d[(len(d)-1)*95/100]
		tot.Max = d[len(d)-1]
	}
	for _, p := range slices.Sorted(maps.Keys(t.plat)) {
		pt := t.plat[p]
		for r, n := range t.platReasons[p] {
			pt.Reasons = append(pt.Reasons, Count{r, n})
		}
		slices.SortFunc(pt.Reasons, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), strings.Compare(a.Name, b.Name)) })
		rep.Platforms = append(rep.Platforms, *pt)
	}
	for k, acc := range t.reasons {
		idx := engine.FormatIndexes(acc.indexes)
		rep.Reasons = append(rep.Reasons, Reason{Stage: k[0], Message: k[1], Shops: len(acc.ids), Example: acc.ids[0],
			ShopIDs: acc.ids, Indexes: idx, Command: "feedbatch rerun " + rep.RunID + " --index " + idx + " --stage " + k[0]})
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

// copyLogs has opts.CopyLogs copy the log of each failed story's latest
// attempt under runs/<run>/logs/ and links the copies (relative to the
// page). Without CopyLogs, links from LogHref and LogLinks stay.
func (rep *Report) copyLogs(ctx context.Context, log *slog.Logger, opts Options) {
	if opts.CopyLogs == nil {
		return
	}
	var logs []FailedLog
	at := map[string]*Attempt{}
	for i := range rep.Shops {
		s := &rep.Shops[i]
		for si, h := range s.History {
			if s.States[si] != Failed || len(h) == 0 || len(logs) >= MaxCopiedLogs {
				continue
			}
			a := &h[len(h)-1]
			if a.Result.JobID == "" || a.Pending {
				continue
			}
			fl := FailedLog{Ref: LogRef{a.Result.JobID, a.Result.Attempt}, Stage: rep.Stages[si], Index: s.Index, Rerun: a.Rerun}
			fl.Key = LogKey(rep.RunID, fl.Stage, fl.Index, fl.Rerun)
			logs = append(logs, fl)
			at[fl.Key] = a
		}
	}
	if len(logs) == 0 {
		return
	}
	copied, err := opts.CopyLogs(ctx, logs)
	if err != nil {
		log.Warn("logs of failed children not all copied", "err", err)
	}
	dir := runs.RunDir(rep.RunID) + "/"
	for _, fl := range logs {
		if copied[fl.Key] {
			at[fl.Key].LogHref = escapePath(strings.TrimPrefix(fl.Key, dir))
		}
	}
}

// escapePath escapes each segment of a relative path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
