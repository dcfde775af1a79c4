package main

import (
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/stages"
)

// TestStatusShowsPartlyPublished: status names the platforms a failed feed
// child published and the ones it did not.
func TestStatusShowsPartlyPublished(t *testing.T) {
	o := planner.Outcome{State: "FAILED", Attempts: 1, Error: "feed naver: drop guard", Platforms: map[string]stages.PlatformResult{
		"google": {Status: stages.PlatformPublished}, "meta": {Status: stages.PlatformPublished},
		"naver": {Status: stages.PlatformFailed, Reason: "drop guard"},
	}}
	s := &planner.Status{Run: "r", Stages: []string{"feed"}, Counts: map[string]map[string]int{"feed": {"FAILED": 1}},
		Failed: map[string]string{"feed": "5"}, Unpublished: map[string]map[string]string{"feed": {"naver": "5"}},
		Shops: []planner.ShopStatus{{Index: 5, ShopID: "trail-co", Stages: map[string]*planner.Cell{"feed": {Latest: o, History: []planner.Outcome{o}}}}}}
	var b strings.Builder
	printStatus(&b, s, true)
	for _, want := range []string{"not published feed naver: 5", "published google, meta; naver: drop guard"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
