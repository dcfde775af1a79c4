// Package notify tells people how a run ended: one message with the counts
// per stage, the top failure reasons, the report link and the exact re-run
// command, sent to a Slack-compatible webhook and/or an SNS topic.
package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Message is one notification about a run.
type Message struct {
	// Run is the run id; Rerun is k when re-run k finished (0: the daily run).
	Run   string
	Rerun int
	// Late is set for the deadline warning: the run has not finished.
	Late bool
	// Shops is the number of shops in the run.
	Shops int64
	// FailedShops is the number of shops with a failed or skipped stage.
	FailedShops int64
	Stages      []Stage
	// Reasons are the top failure reasons, most shops first.
	Reasons []Reason
	// FeedsPublished counts the feed files published by the run.
	FeedsPublished int64
	Duration       time.Duration
	// ReportURL links the run's report (may be empty).
	ReportURL string
	// RerunCommand is the command that re-runs every failed shop (empty when
	// nothing failed).
	RerunCommand string
	// Note is a free line (e.g. why the run is late).
	Note string
}

// Stage is one stage's outcome.
type Stage struct {
	Name                       string
	Succeeded, Failed, Skipped int64
	// FailedIndexes are the failed indexes in compact form ("3,17-19").
	FailedIndexes string
}

// Reason is a failure reason and how many shops it hit.
type Reason struct {
	Stage   string
	Message string
	Shops   int64
}

// Sender delivers a message. Send either delivers the message or returns an
// error; it retries transient failures itself.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Subject is the message's one-line headline.
func (m Message) Subject() string {
	what := "run " + m.Run
	if m.Rerun > 0 {
		what = fmt.Sprintf("re-run %d of %s", m.Rerun, m.Run)
	}
	switch {
	case m.Late:
		return "feedbatch " + what + ": LATE, not finished"
	case m.FailedShops > 0:
		return fmt.Sprintf("feedbatch %s: finished, %d of %d shops failed", what, m.FailedShops, m.Shops)
	default:
		return fmt.Sprintf("feedbatch %s: finished, all %d shops succeeded", what, m.Shops)
	}
}

// maxReasons is how many reasons a message lists.
const maxReasons = 5

// Text is the message as plain text (Slack renders it as is).
func (m Message) Text() string {
	var b strings.Builder
	b.WriteString(m.Subject())
	b.WriteByte('\n')
	if m.Note != "" {
		b.WriteString(m.Note)
		b.WriteByte('\n')
	}
	if m.Duration > 0 {
		fmt.Fprintf(&b, "duration: %s\n", m.Duration.Round(time.Second))
	}
	for _, s := range m.Stages {
		fmt.Fprintf(&b, "%s: %d succeeded, %d failed, %d skipped", s.Name, s.Succeeded, s.Failed, s.Skipped)
		if s.FailedIndexes != "" {
			fmt.Fprintf(&b, " (failed indexes %s)", s.FailedIndexes)
		}
		b.WriteByte('\n')
	}
	if m.FeedsPublished > 0 {
		fmt.Fprintf(&b, "feeds published: %d\n", m.FeedsPublished)
	}
	if len(m.Reasons) > 0 {
		b.WriteString("top reasons:\n")
		for i, r := range m.Reasons {
			if i == maxReasons {
				fmt.Fprintf(&b, "  ... and %d more\n", len(m.Reasons)-maxReasons)
				break
			}
			fmt.Fprintf(&b, "  %d shops, %s: %s\n", r.Shops, r.Stage, oneLine(r.Message, 200))
		}
	}
	if m.ReportURL != "" {
		fmt.Fprintf(&b, "report: %s\n", m.ReportURL)
	}
	if m.RerunCommand != "" {
		fmt.Fprintf(&b, "re-run the failed shops: %s\n", m.RerunCommand)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func oneLine(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}

// All sends m through every sender, and joins their errors: one failing
// sender does not keep the message from the others.
type All []Sender

// Send implements Sender.
func (a All) Send(ctx context.Context, m Message) error {
	var errs []error
	for _, s := range a {
		if err := s.Send(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
