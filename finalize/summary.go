package finalize

import (
	"time"

	"github.com/feedbatch/feedbatch/engine"
	"github.com/feedbatch/feedbatch/report"
)

// Summary is runs/<run>/summary.json: how the run (with its re-runs folded
// in, the latest outcome of each shop winning) ended, for machines.
type Summary struct {
	Run string `json:"run"`
	// Rerun is the re-run whose end wrote this summary (0: the daily run).
	Rerun int `json:"rerun,omitempty"`
	// Finished is true when every stage job of the run (or re-run) was
	// terminal when the summary was written.
	Finished bool  `json:"finished"`
	Shops    int64 `json:"shops"`
	// FailedShops counts shops with a failed stage.
	FailedShops int64          `json:"failed_shops"`
	Stages      []StageSummary `json:"stages"`
	// Reasons are the failure reasons, most shops first.
	Reasons []Reason `json:"reasons,omitempty"`
	// FeedsPublished counts the feed files of the shops' latest successful
	// feed stage.
	FeedsPublished int64     `json:"feeds_published"`
	StartedAt      time.Time `json:"started_at,omitzero"`
	FinishedAt     time.Time `json:"finished_at,omitzero"`
	DurationMS     int64     `json:"duration_ms,omitempty"`
	// Report is the store key of the report page.
	Report string `json:"report,omitempty"`
	// RerunCommand re-runs every failed shop ("" when none failed).
	RerunCommand string    `json:"rerun_command,omitempty"`
	GeneratedAt  time.Time `json:"generated_at"`
}

// StageSummary is one stage's latest outcomes.
type StageSummary struct {
	Stage     string `json:"stage"`
	Succeeded int64  `json:"succeeded"`
	Failed    int64  `json:"failed"`
	// Skipped never ran because a stage before it failed for the shop.
	Skipped int64 `json:"skipped"`
	// Pending are neither finished nor skipped (running, queued, lost).
	Pending int64 `json:"pending,omitempty"`
	// FailedIndexes and SkippedIndexes are daily-run indexes in compact
	// form ("3,17-19").
	FailedIndexes  string `json:"failed_indexes,omitempty"`
	SkippedIndexes string `json:"skipped_indexes,omitempty"`
}

// Reason is a failure reason shared by shops of one stage.
type Reason struct {
	Stage   string `json:"stage"`
	Message string `json:"message"`
	Shops   int64  `json:"shops"`
	// Example is one shop id it hit.
	Example string `json:"example,omitempty"`
}

// RerunCommand is the command that re-runs every failed shop of run.
func RerunCommand(run string) string { return "feedbatch rerun " + run + " --failed" }

// FromReport summarises a built report. It stands in for the run model's
// summary until that lands: the report already folds re-runs and engine
// states into each shop's story.
func FromReport(rep *report.Report) *Summary {
	s := &Summary{Run: rep.RunID, Shops: int64(len(rep.Shops)), FailedShops: int64(rep.Failed), StartedAt: rep.CreatedAt}
	failed := make([][]int64, len(rep.Stages))
	skipped := make([][]int64, len(rep.Stages))
	sums := make([]StageSummary, len(rep.Stages))
	for i, name := range rep.Stages {
		sums[i].Stage = name
	}
	for _, sh := range rep.Shops {
		s.FeedsPublished += int64(len(sh.Feeds))
		for si, state := range sh.States {
			switch state {
			case report.Succeeded:
				sums[si].Succeeded++
			case report.Failed:
				sums[si].Failed++
				failed[si] = append(failed[si], sh.Index)
			case report.Skipped:
				sums[si].Skipped++
				skipped[si] = append(skipped[si], sh.Index)
			default:
				sums[si].Pending++
			}
			for _, a := range sh.History[si] {
				if fin := a.Result.FinishedAt; !a.Pending && fin.After(s.FinishedAt) {
					s.FinishedAt = fin
				}
				if st := a.Result.StartedAt; !st.IsZero() && (s.StartedAt.IsZero() || st.Before(s.StartedAt)) {
					s.StartedAt = st
				}
			}
		}
	}
	for i := range sums {
		sums[i].FailedIndexes = engine.FormatIndexes(failed[i])
		sums[i].SkippedIndexes = engine.FormatIndexes(skipped[i])
	}
	s.Stages = sums
	for _, r := range rep.Reasons {
		s.Reasons = append(s.Reasons, Reason{Stage: r.Stage, Message: r.Message, Shops: int64(r.Shops), Example: r.Example})
	}
	if !s.StartedAt.IsZero() && s.FinishedAt.After(s.StartedAt) {
		s.DurationMS = s.FinishedAt.Sub(s.StartedAt).Milliseconds()
	}
	return s
}
