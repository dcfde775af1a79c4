package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/feedbatch/feedbatch/stages"
)

//go:embed report.html.tmpl
var pageSource string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":   fmtDur,
	"num":   fmtNum,
	"time":  fmtTime,
	"count": func(t StageTotals, state string) int { return t.Counts[state] },
	"pct": func(n, total int) string {
		if total == 0 {
			return "0"
		}
		return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 2, 64)
	},
	"outcomes": func() []string { return []string{Succeeded, Failed, Skipped, Running, NotStarted} },
	"code":     func(state string) string { return string(stateCode[state]) },
	"lines":    func(s string) []string { return strings.Split(s, "; ") },
}).Parse(pageSource))

// Embedded JSON, one object per shop; short names keep 10,000 shops small.
type shopJSON struct {
	I  int64       `json:"i"`
	ID string      `json:"id"`
	N  string      `json:"n,omitempty"`
	S  string      `json:"s"` // one outcome letter per stage
	P  []string    `json:"p,omitempty"`
	F  []string    `json:"f,omitempty"` // links to published feeds
	H  [][]attJSON `json:"h"`
}

type attJSON struct {
	R  int              `json:"r,omitempty"` // re-run number, 0 = the daily run
	X  int64            `json:"x"`           // index in that run's manifest
	Q  bool             `json:"q,omitempty"` // submitted, no result yet
	St string           `json:"st,omitempty"`
	A  int              `json:"a,omitempty"`
	T  string           `json:"t,omitempty"`
	Ms int64            `json:"ms,omitempty"`
	In int64            `json:"in,omitempty"`
	Ou int64            `json:"out,omitempty"`
	E  string           `json:"e,omitempty"` // the error for people, one line per platform
	J  string           `json:"j,omitempty"`
	D  map[string]int64 `json:"d,omitempty"`
	U  bool             `json:"u,omitempty"`
	L  string           `json:"l,omitempty"`
	G  string           `json:"g,omitempty"` // the engine's status, when no record
}

type dataJSON struct {
	Run    string     `json:"run"`
	Stages []string   `json:"stages"`
	Shops  []shopJSON `json:"shops"`
}

func (rep *Report) data() dataJSON {
	d := dataJSON{Run: rep.RunID, Stages: rep.Stages, Shops: make([]shopJSON, len(rep.Shops))}
	for i, s := range rep.Shops {
		var codes strings.Builder
		for _, st := range s.States {
			codes.WriteByte(stateCode[st])
		}
		sj := shopJSON{I: s.Index, ID: s.ID, N: s.Name, S: codes.String(), P: s.Platforms, H: make([][]attJSON, len(s.History))}
		for _, f := range s.Feeds {
			sj.F = append(sj.F, relFromReport(f))
		}
		for si, h := range s.History {
			sj.H[si] = make([]attJSON, 0, len(h))
			for _, a := range h {
				aj := attJSON{R: a.Rerun, X: a.Index, Q: a.Pending, L: a.LogHref, G: a.Engine}
				if a.Pending {
					aj.J = a.Result.JobID
				} else {
					r := a.Result
					aj.St, aj.A, aj.Ms, aj.In, aj.Ou = r.Status[:1], r.Attempt, r.DurationMS, r.ItemsIn, r.ItemsOut
					aj.J, aj.D, aj.U = r.JobID, r.Dropped, r.Unchanged
					if r.Status != stages.StatusSucceeded || r.Error != "" {
						aj.E = strings.Join(errorLines(rep.Stages[si], s.ID, r), "\n")
					}
					if !r.StartedAt.IsZero() {
						aj.T = r.StartedAt.UTC().Format("2006-01-02 15:04:05")
					}
				}
				sj.H[si] = append(sj.H[si], aj)
			}
		}
		d.Shops[i] = sj
	}
	return d
}

// Render writes the page.
func (rep *Report) Render(w io.Writer) error {
	// encoding/json escapes <, > and & inside strings, so the JSON cannot
	// close the script element it is embedded in.
	b, err := json.Marshal(rep.data())
	if err != nil {
		return fmt.Errorf("report %s: encode data: %w", rep.RunID, err)
	}
	v := struct {
		*Report
		Data template.JS
	}{rep, template.JS(b)}
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("report %s: render: %w", rep.RunID, err)
	}
	return nil
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func fmtNum(n any) string {
	var v int64
	switch x := n.(type) {
	case int:
		v = int64(x)
	case int64:
		v = x
	default:
		return fmt.Sprint(n)
	}
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
