package runs

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/feedbatch/feedbatch/engine"
	"github.com/feedbatch/feedbatch/stages"
)

// SummaryKey is where a run's summary is stored.
func SummaryKey(run string) string { return RunDir(run) + "/summary.json" }

// Summary is the machine-readable account of a run and its re-runs
// (runs/<run>/summary.json): what a notification or a script needs.
type Summary struct {
	Run string `json:"run"`
	// Finished is true when every shop's story in every stage is final.
	Finished bool `json:"finished"`
	Shops    int  `json:"shops"`
	Reruns   int  `json:"reruns"`
	// FailedShops counts shops failed or skipped in at least one stage.
	FailedShops int            `json:"failed_shops"`
	Start       time.Time      `json:"start,omitzero"`
	End         time.Time      `json:"end,omitzero"`
	DurationS   float64        `json:"duration_seconds,omitempty"`
	Stages      []StageSummary `json:"stages"`
	// Reasons are the most common failure reasons, most shops first.
	Reasons []ReasonCount `json:"reasons,omitempty"`
	// Feeds are, per platform, the shops whose feed is published and the
	// shops whose feed was not (their child may have published others).
	Feeds []PlatformSummary `json:"feeds,omitempty"`
	// RerunCommand re-runs every failed shop ("" when none failed).
	RerunCommand string `json:"rerun_command,omitempty"`
	// EngineError is set when the engine could not be asked.
	EngineError string `json:"engine_error,omitempty"`
}

// StageSummary is one stage's counts by state; the index lists are daily-run
// indexes in compact form ("3,17-19").
type StageSummary struct {
	Stage          string `json:"stage"`
	Succeeded      int    `json:"succeeded"`
	Failed         int    `json:"failed"`
	Skipped        int    `json:"skipped"`
	Cancelled      int    `json:"cancelled,omitempty"`
	Running        int    `json:"running,omitempty"`
	Pending        int    `json:"pending,omitempty"`
	FailedIndexes  string `json:"failed_indexes,omitempty"`
	SkippedIndexes string `json:"skipped_indexes,omitempty"`
}

// ReasonCount is a failure reason shared by shops of one stage.
type ReasonCount struct {
	Stage   string `json:"stage"`
	Reason  string `json:"reason"`
	Shops   int    `json:"shops"`
	Indexes string `json:"indexes"`
}

// PlatformSummary is one platform's publishing over the run's shops.
type PlatformSummary struct {
	Platform  string `json:"platform"`
	Published int    `json:"published"`
	Items     int64  `json:"items"`
	Failed    int    `json:"failed,omitempty"`
	// FailedIndexes are the shops whose feed for the platform was not
	// published.
	FailedIndexes string `json:"failed_indexes,omitempty"`
}

// maxReasons is how many reasons a summary lists.
const maxReasons = 10

// BuildSummary sums up a run model.
func BuildSummary(m *Model) Summary {
	b := summer{s: Summary{Run: m.Run, Shops: len(m.Shops), Reruns: len(m.Reruns), Finished: true, EngineError: m.EngineError},
		reasons: map[[2]string][]int64{}, failed: make([][]int64, len(m.Steps)), skipped: make([][]int64, len(m.Steps)),
		plats: map[string]*PlatformSummary{}, platFailed: map[string][]int64{}}
	if m.Record != nil {
		b.s.Start = m.Record.CreatedAt
	}
	for _, step := range m.Steps {
		b.s.Stages = append(b.s.Stages, StageSummary{Stage: step.Name})
	}
	for _, sh := range m.Shops {
		shopFailed := false
		for si, story := range sh.Stories {
			b.count(si, sh.Index, story.State)
			shopFailed = shopFailed || story.State == Failed || story.State == Skipped
			for _, a := range story.History {
				b.times(&a)
			}
			if a := story.Latest(); a != nil {
				b.latest(sh, story, a)
			}
		}
		if shopFailed {
			b.s.FailedShops++
		}
	}
	return b.finish(m)
}

// summer accumulates a Summary.
type summer struct {
	s               Summary
	reasons         map[[2]string][]int64 // (stage, reason) -> shops
	failed, skipped [][]int64             // per stage
	plats           map[string]*PlatformSummary
	platFailed      map[string][]int64
}

// count adds a story's state to its stage's counts.
func (b *summer) count(si int, index int64, state State) {
	st := &b.s.Stages[si]
	switch state {
	case Succeeded:
		st.Succeeded++
	case Failed:
		st.Failed++
		b.failed[si] = append(b.failed[si], index)
	case Skipped:
		st.Skipped++
		b.skipped[si] = append(b.skipped[si], index)
	case Cancelled:
		st.Cancelled++
	case Running:
		st.Running++
	default:
		st.Pending++
	}
	if !state.Terminal() {
		b.s.Finished = false
	}
}

// times widens the run's start and end to the attempt's.
func (b *summer) times(a *Attempt) {
	start, end := a.times()
	if !start.IsZero() && (b.s.Start.IsZero() || start.Before(b.s.Start)) {
		b.s.Start = start
	}
	if end.After(b.s.End) {
		b.s.End = end
	}
}

// latest adds the failure reason and the per-platform results of a story's
// latest attempt.
func (b *summer) latest(sh Shop, story Story, a *Attempt) {
	if story.State == Failed {
		k := [2]string{story.Stage, GroupReason(sh.ShopID, a.Lines(story.Stage, sh.ShopID))}
		b.reasons[k] = append(b.reasons[k], sh.Index)
	}
	if a.Result == nil {
		return
	}
	for p, pr := range a.Result.Platforms {
		ps := b.plats[p]
		if ps == nil {
			ps = &PlatformSummary{Platform: p}
			b.plats[p] = ps
		}
		if pr.Status == stages.PlatformPublished {
			ps.Published++
			ps.Items += pr.Items
		} else {
			ps.Failed++
			b.platFailed[p] = append(b.platFailed[p], sh.Index)
		}
	}
}

// finish compresses the index lists, sorts and cuts the reasons, and sets
// the duration and the re-run command.
func (b *summer) finish(m *Model) Summary {
	s := b.s
	for si := range s.Stages {
		s.Stages[si].FailedIndexes = engine.FormatIndexes(b.failed[si])
		s.Stages[si].SkippedIndexes = engine.FormatIndexes(b.skipped[si])
	}
	for k, idx := range b.reasons {
		s.Reasons = append(s.Reasons, ReasonCount{Stage: k[0], Reason: k[1], Shops: len(idx), Indexes: engine.FormatIndexes(idx)})
	}
	slices.SortFunc(s.Reasons, func(a, b ReasonCount) int {
		return cmp.Or(b.Shops-a.Shops, m.StageIndex(a.Stage)-m.StageIndex(b.Stage), strings.Compare(a.Reason, b.Reason))
	})
	if len(s.Reasons) > maxReasons {
		s.Reasons = s.Reasons[:maxReasons]
	}
	for _, p := range slices.Sorted(maps.Keys(b.plats)) {
		ps := b.plats[p]
		ps.FailedIndexes = engine.FormatIndexes(b.platFailed[p])
		s.Feeds = append(s.Feeds, *ps)
	}
	if !s.Finished {
		s.End = time.Time{}
	}
	if !s.Start.IsZero() && !s.End.IsZero() {
		s.DurationS = s.End.Sub(s.Start).Seconds()
	}
	if s.FailedShops > 0 {
		s.RerunCommand = "feedbatch rerun " + m.Run + " --failed"
	}
	return s
}

// JSON is the summary as stored: indented, newline-terminated.
func (s Summary) JSON() ([]byte, error) {
	// Reasons quote "<shop>" and "> 50%": written as is, not as \u003c.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode summary of %s: %w", s.Run, err)
	}
	return b.Bytes(), nil
}

// times are when the attempt started and stopped (the child's own record,
// else the engine's).
func (a *Attempt) times() (time.Time, time.Time) {
	if r := a.Result; r != nil && !r.StartedAt.IsZero() {
		return r.StartedAt, r.FinishedAt
	}
	if e := a.Engine; e != nil {
		return e.Started, e.Stopped
	}
	return time.Time{}, time.Time{}
}

// Reason is why the attempt failed: the child's own error when it recorded
// one, else the engine's reason with the exit code.
func (a *Attempt) Reason() string {
	if a.Result != nil && a.Result.Error != "" {
		return a.Result.Error
	}
	if e := a.Engine; e != nil && e.Reason != "" {
		if e.ExitCode != nil {
			return fmt.Sprintf("%s (exit code %d)", e.Reason, *e.ExitCode)
		}
		return e.Reason
	}
	return ""
}
