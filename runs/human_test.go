package runs

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/stages"
)

// Error texts as the stages write them (the fmt.Errorf chains of
// stages/collect, stages/feed, stages/image, the stores and the AWS SDK),
// wrapped by stages.Execute as "<stage> shop <id>: ".
const (
	realGuard = "feed shop s1: feed google: feed: item count fell past the guard: 98 items, 1000 in shops/s1/feeds/google.meta.json: " +
		"fell 90.2% > feed.max_drop_share 50.0%; previous feed kept (re-run with --force to publish)"
	realGuardReason = "feed: item count fell past the guard: 98 items, 1000 in shops/s1/feeds/google.meta.json: " +
		"fell 90.2% > feed.max_drop_share 50.0%; previous feed kept (re-run with --force to publish)"
	realEmpty   = "feed shop s1: feed naver: feed: no valid item: 0 of 12 items valid (dropped: currency_not_krw 12); previous feed kept"
	realRefused = `collect shop s1: source https://shop.example/catalog.csv: Get "https://shop.example/catalog.csv": dial tcp 127.0.0.1:9: connect: connection refused (after 3 attempts)`
	realMissing = "collect shop s1: source file:///data/s1.csv: open /data/s1.csv: no such file or directory"
	real404     = "collect shop s1: source https://shop.example/catalog.csv: HTTP 404 Not Found: the catalog is not there; check the shop's source URL"
	realS3      = "feed shop s1: feed meta: publish shops/s1/feeds/meta.csv.gz: put shops/s1/feeds/meta.csv.gz: operation error S3: PutObject, " +
		"exceeded maximum number of attempts, 3, https response error StatusCode: 503, RequestID: 4442587FB7D0A2F9, HostID: abc=, api error SlowDown: Please reduce your request rate."
	realImages = "image shop s1: 40 of 100 images failed (40% > image.max_fail_share 25%): map[http_404:30 timeout:10]"
	realIndex  = "image shop s1: image index shops/s1/images/index.jsonl: image: bad index: line 3: index version 9, this build reads 1"
	realOption = `feed shop s1: options: feed.max_drop_share="lots": want a number between 0 and 1`
	realReset  = "collect shop s1: source https://shop.example/c.csv: source read failed: read tcp 10.0.0.5:41234->93.184.216.34:443: read: connection reset by peer"
)

func TestErrorLines(t *testing.T) {
	tests := []struct {
		name  string
		stage string
		res   stages.Result
		want  []string
	}{
		{"plain", "collect", stages.Result{Error: "collect shop s1: fetch https://x/c.csv: HTTP 503 Service Unavailable"},
			[]string{"fetch https://x/c.csv: HTTP 503 Service Unavailable"}},
		{"chain cut to what and why", "feed", stages.Result{Error: "feed shop s1: feed meta: write shops/s1/feeds/meta.csv.gz: put: context deadline exceeded"},
			[]string{"meta: timed out"}},
		{"a phrase naming the cause stays", "feed", stages.Result{Error: "feed shop s1: feed naver: drop guard: item count fell from 10 to 1"},
			[]string{"naver: drop guard: item count fell from 10 to 1"}},
		{"read body", "collect", stages.Result{Error: "collect shop s1: fetch https://x/c.csv: read body: unexpected EOF"},
			[]string{"fetch https://x/c.csv: read body: the connection closed early"}},
		{"map written out", "feed", stages.Result{Error: "feed shop s1: dropped map[google/missing_price:3 meta/missing_image:2]"},
			[]string{"dropped google/missing_price 3, meta/missing_image 2"}},
		{"joined errors, one line each", "feed", stages.Result{Error: "feed shop s1: google: bad price\nmeta: bad image\n"},
			[]string{"google: bad price", "meta: bad image"}},
		{"one line per platform", "feed", stages.Result{Error: "feed shop s1: feed meta: drop guard; feed naver: map[x:1]",
			Platforms: map[string]stages.PlatformResult{
				"google": {Status: stages.PlatformPublished},
				"naver":  {Status: stages.PlatformFailed, Reason: "feed naver: render: template: map[a:1]"},
				"meta":   {Status: stages.PlatformFailed, Reason: "drop guard: item count fell from 10 to 1"},
			}},
			[]string{"meta: drop guard: item count fell from 10 to 1", "naver: a 1"}},
		{"engine reason", "image", stages.Result{Error: "Essential container in task exited (exit code 137)"},
			[]string{"Essential container in task exited (exit code 137)"}},
		{"engine prefix", "image", stages.Result{Error: "Essential container in task exited: OutOfMemoryError: Container killed due to memory usage (exit code 137)"},
			[]string{"OutOfMemoryError: Container killed due to memory usage (exit code 137)"}},

		// The stages' own chains.
		{"real drop guard keeps its cause and advice", "feed", stages.Result{Error: realGuard},
			[]string{"google: item count fell past the guard: 98 items, 1000 in shops/s1/feeds/google.meta.json: fell 90.2% > feed.max_drop_share 50.0%; previous feed kept (re-run with --force to publish)"}},
		{"real drop guard per platform", "feed", stages.Result{Error: realGuard, Platforms: map[string]stages.PlatformResult{
			"google": {Status: stages.PlatformFailed, Items: 98, Reason: realGuardReason},
			"meta":   {Status: stages.PlatformPublished, Items: 1000},
		}}, []string{"google: item count fell past the guard: 98 items, 1000 in shops/s1/feeds/google.meta.json: fell 90.2% > feed.max_drop_share 50.0%; previous feed kept (re-run with --force to publish)"}},
		{"empty feed", "feed", stages.Result{Error: realEmpty},
			[]string{"naver: no valid item: 0 of 12 items valid (dropped: currency_not_krw 12); previous feed kept"}},
		{"net/http chain", "collect", stages.Result{Error: realRefused},
			[]string{"source https://shop.example/catalog.csv: connection refused (after 3 attempts)"}},
		{"missing source file", "collect", stages.Result{Error: realMissing},
			[]string{"source file:///data/s1.csv: no such file or directory"}},
		{"HTTP 404 with advice", "collect", stages.Result{Error: real404},
			[]string{"source https://shop.example/catalog.csv: HTTP 404 Not Found: the catalog is not there; check the shop's source URL"}},
		{"AWS SDK error", "feed", stages.Result{Error: realS3},
			[]string{"meta: S3 PutObject failed (HTTP 503, SlowDown, 3 attempts): Please reduce your request rate."}},
		{"image fail share with its map", "image", stages.Result{Error: realImages},
			[]string{"40 of 100 images failed (40% > image.max_fail_share 25%): http_404 30, timeout 10"}},
		{"bad image index", "image", stages.Result{Error: realIndex},
			[]string{"image index shops/s1/images/index.jsonl: bad index: line 3: index version 9, this build reads 1"}},
		{"bad option keeps the option", "feed", stages.Result{Error: realOption},
			[]string{`options: feed.max_drop_share="lots": want a number between 0 and 1`}},
		{"connection reset", "collect", stages.Result{Error: realReset},
			[]string{"source https://shop.example/c.csv: source read failed: connection reset by peer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ErrorLines(tc.stage, "s1", tc.res)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, l := range got {
				if strings.Contains(l, "map[") || strings.Contains(l, "\n") || strings.Contains(l, "RequestID") {
					t.Errorf("line %q is not for people", l)
				}
			}
		})
	}
}

func TestReasonText(t *testing.T) {
	tests := []struct{ msg, want string }{
		{"feed shop s1: drop guard on s1", "drop guard on <shop>"},
		{"", "(no error message)"},
		{"other: x", "other: x"},
		{"feed shop s1: google: bad price\nmeta: bad image", "google: bad price; meta: bad image"},
		{"feed shop s1: feed google: x\nfeed naver:  y", "google: x; naver: y"},
		{strings.Replace(realMissing, "collect", "feed", 1), "source file:///data/<shop>.csv: no such file or directory"},
	}
	for _, tc := range tests {
		if got := ReasonText("feed", "s1", tc.msg); got != tc.want {
			t.Errorf("ReasonText(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

// TestAttemptLines: an attempt without a record says the engine's reason,
// the AWS prefix gone; one with a record says the child's error.
func TestAttemptLines(t *testing.T) {
	code := int32(137)
	a := Attempt{Engine: &Child{Status: "FAILED", Reason: "Essential container in task exited: OutOfMemoryError: killed", ExitCode: &code}}
	if got := a.Lines("image", "s1"); !cmp.Equal(got, []string{"OutOfMemoryError: killed (exit code 137)"}) {
		t.Errorf("engine only: %q", got)
	}
	a.Result = &stages.Result{Status: stages.StatusFailed, Error: realMissing}
	if got := a.Lines("collect", "s1"); !cmp.Equal(got, []string{"source file:///data/s1.csv: no such file or directory"}) {
		t.Errorf("with record: %q", got)
	}
}

// FuzzErrorLines: any error text becomes lines without a newline or Go's
// map syntax, at most MaxLine bytes and an ellipsis each, valid UTF-8 when
// the input is.
func FuzzErrorLines(f *testing.F) {
	for _, s := range []string{"feed shop s1: feed meta: write x: put: context deadline exceeded", "map[a:1 b:2]", "map[map[]]", "a\nb\n", "x: map[]: y",
		strings.Repeat("상점 ", 200), realGuard, realS3, realRefused, "operation error S3: PutObject, "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		for _, l := range ErrorLines("feed", "s1", stages.Result{Error: msg}) {
			if strings.Contains(l, "\n") || len(l) > MaxLine+len("…") || l == "" {
				t.Fatalf("line %q", l)
			}
			if goMap.MatchString(l) {
				t.Fatalf("line %q keeps Go's map syntax", l)
			}
			if utf8.ValidString(msg) && !utf8.ValidString(l) {
				t.Fatalf("line %q is not valid UTF-8", l)
			}
		}
	})
}
