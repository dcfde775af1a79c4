package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages"
)

// TestStatusSaysErrorsForPeople: status prints the stages' errors as
// people read them (no Go map, no chain of wrapped Go errors: no plumbing
// link such as "put:", "write shops/…:", `Get "…":` or "dial tcp …:"),
// the whole text where a person asked for one shop (the drop guard's
// advice survives), without AWS Batch's generic exit prefix.
func TestStatusSaysErrorsForPeople(t *testing.T) {
	guard := "feed: item count fell past the guard: 98 items, 1000 in shops/trail-co/feeds/naver.meta.json: " +
		"fell 90.2% > feed.max_drop_share 50.0%; previous feed kept (re-run with --force to publish)"
	code := int32(1)
	t0 := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	res := func(stage string, ok bool, msg string, platforms map[string]stages.PlatformResult) *stages.Result {
		r := &stages.Result{Stage: stage, Status: stages.StatusSucceeded, Attempt: 1, StartedAt: t0, FinishedAt: t0.Add(time.Second), Platforms: platforms}
		if !ok {
			r.Status, r.Error = stages.StatusFailed, msg
		}
		return r
	}
	engine := &runs.Child{Status: "FAILED", Reason: "Essential container in task exited", ExitCode: &code}
	shop := func(i int64, id string, collect, feed *stages.Result) runs.Shop {
		return runs.Shop{Index: i, ShopID: id, Stories: []runs.Story{
			{Stage: "collect", State: state(collect), History: []runs.Attempt{{Index: i, State: state(collect), Result: collect, Engine: engineIf(collect, engine)}}},
			{Stage: "feed", State: state(feed), History: []runs.Attempt{{Index: i, State: state(feed), Result: feed, Engine: engineIf(feed, engine)}}},
		}}
	}
	m := &runs.Model{Run: "2026-11-23", Steps: []runs.Step{{Name: "collect"}, {Name: "feed", After: []string{"collect"}}}, Shops: []runs.Shop{
		shop(0, "trail-co", res("collect", true, "", nil), res("feed", false, "feed shop trail-co: feed naver: "+guard, map[string]stages.PlatformResult{
			"google": {Status: stages.PlatformPublished, Items: 1000}, "naver": {Status: stages.PlatformFailed, Items: 98, Reason: guard}})),
		shop(1, "north-co", res("collect", false, `collect shop north-co: source https://north.example/c.csv: Get "https://north.example/c.csv": dial tcp 10.0.0.1:443: connect: connection refused (after 3 attempts)`, nil), nil),
		shop(2, "east-co", res("collect", true, "", nil), res("feed", false, "feed shop east-co: feed meta: publish shops/east-co/feeds/meta.csv.gz: put shops/east-co/feeds/meta.csv.gz: "+
			"operation error S3: PutObject, https response error StatusCode: 503, RequestID: X1, HostID: Y2=, api error SlowDown: Please reduce your request rate.", nil)),
		shop(3, "west-co", res("collect", true, "", nil), res("feed", false, "feed shop west-co: dropped map[google/missing_price:3 meta/missing_image:2]", nil)),
	}}
	var b strings.Builder
	printStatus(&b, planner.StatusOf(m), true)
	out := b.String()
	for _, want := range []string{
		"published google; naver: item count fell past the guard: 98 items, 1000 in shops/trail-co/feeds/naver.meta.json: fell 90.2% > feed.max_drop_share 50.0%; previous feed kept (re-run with --force to publish)",
		"source https://north.example/c.csv: connection refused (after 3 attempts)",
		"meta: S3 PutObject failed (HTTP 503, SlowDown): Please reduce your request rate.",
		"dropped google/missing_price 3, meta/missing_image 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	plumbing := regexp.MustCompile(`map\[|Essential container|RequestID|(^|: )(put|render|template|connect|feed): |(write|put|publish) shops/\S+: |Get "[^"]*": |dial tcp \S+: |feed shop `)
	for l := range strings.SplitSeq(out, "\n") {
		if plumbing.MatchString(l) {
			t.Errorf("line keeps a Go error chain or map: %q", l)
		}
	}
}

func state(r *stages.Result) runs.State {
	switch {
	case r == nil:
		return runs.Skipped
	case r.Status == stages.StatusSucceeded:
		return runs.Succeeded
	}
	return runs.Failed
}

func engineIf(r *stages.Result, c *runs.Child) *runs.Child {
	if r == nil || r.Status == stages.StatusSucceeded {
		return nil
	}
	return c
}
