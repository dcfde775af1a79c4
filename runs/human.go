package runs

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/feedbatch/feedbatch/stages"
)

// This file writes error texts for people: status, the report, the summary
// and the notification all say a failure the same way.

// MaxLine is how many bytes a line of an error for people keeps.
const MaxLine = 300

// essentialExited is AWS Batch's statusReason of every container exit; it
// says nothing beside the child's own error.
const essentialExited = "Essential container in task exited"

// ErrorLines turns a failed result's error into text for people: one line
// per platform where the child says how each platform fared, else one line
// per joined error; each line a HumanLine.
func ErrorLines(stage, shop string, r stages.Result) []string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(r.Platforms)) {
		pr := r.Platforms[p]
		if pr.Status == stages.PlatformPublished {
			continue
		}
		// The platform is the chain's first link: what was being done.
		why := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(pr.Reason), "feed "+p+": "), p+": ")
		out = append(out, HumanLine(stage, shop, "feed "+p+": "+cmp.Or(why, "not published")))
	}
	if len(out) > 0 {
		return out
	}
	for l := range strings.SplitSeq(r.Error, "\n") {
		if l = HumanLine(stage, shop, l); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// Lines is why the attempt failed, for people: the child's own error (one
// line per platform where it says how each fared), else the engine's
// reason with the exit code.
func (a *Attempt) Lines(stage, shop string) []string {
	if a.Result != nil && (a.Result.Error != "" || len(a.Result.Platforms) > 0) {
		if l := ErrorLines(stage, shop, *a.Result); len(l) > 0 {
			return l
		}
	}
	return ErrorLines(stage, shop, stages.Result{Error: a.Reason()})
}

// GroupReason joins the lines of one shop's failure into the reason shops
// failing alike share: the shop's id named <shop>, lines separated by "; ",
// "(no error message)" when there is none.
func GroupReason(shop string, lines []string) string {
	var out []string
	for _, l := range lines {
		if shop != "" {
			l = strings.ReplaceAll(l, shop, "<shop>")
		}
		if l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return "(no error message)"
	}
	return strings.Join(out, "; ")
}

// ReasonText makes a failure message groupable and readable: each line a
// HumanLine, the shop named <shop>, the lines joined by "; ".
func ReasonText(stage, shop, msg string) string {
	return GroupReason(shop, ErrorLines(stage, shop, stages.Result{Error: msg}))
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

// awsErr matches the AWS SDK's operation error: "operation error S3:
// PutObject, [exceeded maximum number of attempts, 3, ]https response error
// StatusCode: 503, RequestID: x, HostID: y, api error SlowDown: Please
// reduce your request rate." (the request ids say nothing to people).
var awsErr = regexp.MustCompile(`operation error ([\w .-]+): (\w+), (?:exceeded maximum number of attempts, (\d+), )?(?:https response error StatusCode: (\d+), RequestID: [^,]*, (?:HostID: [^,]*, )?)?(?:api error (\w+): )?`)

// netOp matches Go's net and net/http links that name the plumbing, not the
// cause: `Get "https://x/c.csv"`, "dial tcp 10.0.0.1:443", "read tcp
// a->b", "lookup x on 127.0.0.53:53".
var netOp = regexp.MustCompile(`^(?:(?:Get|Head|Put|Post|Delete) "[^"]*"|(?:dial|read|write) (?:tcp|udp|unix)[46]? ?\S*|lookup \S+(?: on \S+)?|request send failed, .*)$`)

// HumanLine is one line of an error for people: the stage prefix and AWS
// Batch's generic "Essential container in task exited: " gone, Go's map
// syntax written as "k v, k2 v2", Go's and the AWS SDK's phrases in plain
// words, and a chain "a: b: c: d" cut to what was being done (its first
// link) and why (its last), keeping the links between that say something
// (a phrase naming the cause, like "drop guard" or "HTTP 404 Not Found")
// and dropping plumbing: a bare word ("put", "render", "feed"), an
// operation on a key or path ("write shops/s1/feeds/meta.csv.gz", "open
// /data/x.csv"), a network operation (`Get "https://…"`, "dial tcp …").
// "feed <platform>: " becomes "<platform>: ". At most MaxLine bytes.
func HumanLine(stage, shop, msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	msg = strings.TrimPrefix(msg, stage+" shop "+shop+": ")
	msg = strings.TrimPrefix(msg, stage+" "+shop+": ")
	msg = strings.TrimPrefix(msg, essentialExited+": ")
	// Nested maps come out from the inside; each pass shortens msg.
	for goMap.MatchString(msg) {
		msg = writeMaps(msg)
	}
	msg = goWords.Replace(msg)
	msg = awsErr.ReplaceAllStringFunc(msg, awsWords)
	if segs := strings.Split(msg, ": "); len(segs) > 1 {
		if segs[0] == stage && len(segs) > 2 {
			segs = segs[1:] // "feed: item count fell past the guard: ...": the package's prefix
		}
		first, last := segs[0], segs[len(segs)-1]
		if p, ok := strings.CutPrefix(first, "feed "); ok && !strings.Contains(p, " ") {
			first = p // "feed meta: ...": the platform
		}
		keep := []string{first}
		for _, s := range segs[1 : len(segs)-1] {
			if !plumbing(s) && s != keep[len(keep)-1] {
				keep = append(keep, s)
			}
		}
		msg = strings.Join(append(keep, last), ": ")
	}
	if len(msg) > MaxLine {
		cut := MaxLine
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// plumbing reports whether a middle link of an error chain says only how
// the program got there.
func plumbing(link string) bool {
	f := strings.Fields(link)
	switch {
	case len(f) == 0:
		return true
	case len(f) == 1:
		// A bare lowercase word ("put", "gzip", "feed"); a link with data
		// in it (feed.max_drop_share="x", HTTP) stays.
		return strings.Trim(link, "abcdefghijklmnopqrstuvwxyz") == ""
	case len(f) == 2 && strings.ContainsAny(f[1], "/\\") && !strings.Contains(f[1], "://"):
		// "write shops/s1/feeds/meta.csv.gz", "open /data/x.csv".
		return strings.Trim(f[0], "abcdefghijklmnopqrstuvwxyz") == ""
	}
	return netOp.MatchString(link)
}

// awsWords writes an AWS SDK operation error as "S3 PutObject failed (HTTP
// 503, SlowDown, 3 attempts): ".
func awsWords(m string) string {
	g := awsErr.FindStringSubmatch(m)
	var why []string
	if g[4] != "" && g[4] != "0" {
		why = append(why, "HTTP "+g[4])
	}
	if g[5] != "" {
		why = append(why, g[5])
	}
	if g[3] != "" {
		why = append(why, g[3]+" attempts")
	}
	out := g[1] + " " + g[2] + " failed"
	if len(why) > 0 {
		out += " (" + strings.Join(why, ", ") + ")"
	}
	return out + ": "
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
