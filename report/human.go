package report

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/feedbatch/feedbatch/stages"
)

// errorLines turns a failed result's error into text for people: one line
// per platform where the child says how each platform fared, else one line
// per joined error; each line without the "<stage> shop <id>: " prefix,
// without the middle of a Go error chain and with Go's map syntax written
// out.
func errorLines(stage, shop string, r stages.Result) []string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(r.Platforms)) {
		pr := r.Platforms[p]
		if pr.Status == stages.PlatformPublished {
			continue
		}
		msg := strings.TrimPrefix(humanLine(stage, shop, cmpOr(pr.Reason, "not published")), p+": ")
		msg = strings.TrimPrefix(msg, "feed "+p+": ")
		out = append(out, p+": "+msg)
	}
	if len(out) > 0 {
		return out
	}
	for l := range strings.SplitSeq(r.Error, "\n") {
		if l = humanLine(stage, shop, l); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// goMap matches fmt's rendering of a map: map[k1:v1 k2:v2].
var goMap = regexp.MustCompile(`map\[([^\[\]]*)\]`)

// goWords are Go's error texts that read better in plain words.
var goWords = strings.NewReplacer(
	"context deadline exceeded", "timed out",
	"context canceled", "cancelled",
	"i/o timeout", "timed out",
	"unexpected EOF", "the connection closed early",
)

// humanLine is one line of an error for people: the stage prefix gone, Go's
// map syntax written as "k v, k2 v2", a chain "a: b: c: d" cut to its
// first and last links ("a: d": what was being done and why; "a: c: d"
// when c is a phrase that names the cause, like "drop guard"), "feed
// <platform>: " shortened to "<platform>: ", and at most 300 bytes.
func humanLine(stage, shop, msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	msg = strings.TrimPrefix(msg, stage+" shop "+shop+": ")
	msg = strings.TrimPrefix(msg, stage+" "+shop+": ")
	// Nested maps come out from the inside; each pass shortens msg.
	for goMap.MatchString(msg) {
		msg = writeMaps(msg)
	}
	msg = goWords.Replace(msg)
	if segs := strings.Split(msg, ": "); len(segs) > 2 {
		first, last := segs[0], segs[len(segs)-1]
		if p, ok := strings.CutPrefix(first, "feed "); ok && !strings.Contains(p, " ") {
			first = p // "feed meta: ...": the platform
		}
		msg = first + ": "
		// A phrase before the cause names it ("drop guard: item count
		// fell ..."); one word ("put", "render") is plumbing.
		if pen := segs[len(segs)-2]; strings.Contains(pen, " ") && !strings.ContainsAny(pen, "/\\") {
			msg += pen + ": "
		}
		msg += last
	}
	if len(msg) > 300 {
		cut := 300
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// Neighbour is the report of the day before or after a run whose id is a
// date: its run id and the conventional location of its page, relative to
// this page. The link is made without looking: the page is there once that
// day's report is written.
type Neighbour struct {
	Run  string
	Href string
}

// neighbours are the previous and next day of a run id that is a date
// (2026-11-23); other ids have none.
func neighbours(run string) (prev, next Neighbour) {
	d, err := time.Parse(time.DateOnly, run)
	if err != nil || d.Format(time.DateOnly) != run {
		return Neighbour{}, Neighbour{}
	}
	mk := func(t time.Time) Neighbour {
		id := t.Format(time.DateOnly)
		return Neighbour{Run: id, Href: "../" + id + "/report.html"}
	}
	return mk(d.AddDate(0, 0, -1)), mk(d.AddDate(0, 0, 1))
}

// writeMaps writes each innermost map[k1:v1 k2:v2] as "k1 v1, k2 v2".
func writeMaps(msg string) string {
	return goMap.ReplaceAllStringFunc(msg, func(m string) string {
		inner := goMap.FindStringSubmatch(m)[1]
		var parts []string
		for f := range strings.FieldsSeq(inner) {
			if i := strings.LastIndexByte(f, ':'); i > 0 {
				f = f[:i] + " " + f[i+1:]
			}
			parts = append(parts, f)
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, ", ")
	})
}
