package finalize

import (
	"time"

	"github.com/feedbatch/feedbatch/runs"
)

// Summary is runs/<run>/summary.json: the run model's summary of the run
// with its re-runs folded in (runs.BuildSummary), plus what finalize knows.
type Summary struct {
	runs.Summary
	// Rerun is the re-run whose end wrote this summary (0: the daily run).
	Rerun int `json:"rerun,omitempty"`
	// Report is the store key of the report page.
	Report      string    `json:"report,omitempty"`
	GeneratedAt time.Time `json:"generated_at"`
}

// RerunCommand is the command that re-runs every failed shop of run.
func RerunCommand(run string) string { return "feedbatch rerun " + run + " --failed" }

// feedsPublished sums the shops whose feed each platform published.
func (s *Summary) feedsPublished() int64 {
	var n int64
	for _, f := range s.Feeds {
		n += int64(f.Published)
	}
	return n
}
