package planner

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/stages"
)

// TestStatusOfPartlyPublished: a feed child that published google and meta
// but failed naver is FAILED, and status says which platforms it published.
func TestStatusOfPartlyPublished(t *testing.T) {
	res := &stages.Result{Stage: "feed", Status: stages.StatusFailed, Attempt: 1, Error: "feed shop s5: feed naver: drop guard",
		Platforms: map[string]stages.PlatformResult{
			"google": {Status: stages.PlatformPublished, Items: 10},
			"meta":   {Status: stages.PlatformPublished, Items: 10},
			"naver":  {Status: stages.PlatformFailed, Items: 1, Reason: "drop guard"},
		}}
	ok := &stages.Result{Stage: "feed", Status: stages.StatusSucceeded, Attempt: 1}
	skip := &runs.Child{Status: runs.BatchFailed, Reason: runs.ReasonDependentFailed}
	m := &runs.Model{Run: "r", Steps: []runs.Step{{Name: "feed"}}, Shops: []runs.Shop{
		{Index: 0, ShopID: "s0", Stories: []runs.Story{{Stage: "feed", History: []runs.Attempt{{Result: ok, State: runs.Succeeded}}}}},
		{Index: 1, ShopID: "s5", Stories: []runs.Story{{Stage: "feed", History: []runs.Attempt{{Index: 1, Result: res, State: runs.Failed}}}}},
		{Index: 2, ShopID: "s6", Stories: []runs.Story{{Stage: "feed", History: []runs.Attempt{{Index: 2, Engine: skip, State: runs.Skipped}}}}},
		{Index: 3, ShopID: "s7", Stories: []runs.Story{{Stage: "feed"}}},
	}}
	s := StatusOf(m)
	if diff := cmp.Diff(map[string]int{"SUCCEEDED": 1, "FAILED": 1, StateSkipped: 1, StateUnknown: 1}, s.Counts["feed"]); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if s.Failed["feed"] != "1" || s.Skipped["feed"] != "2" {
		t.Errorf("failed %v skipped %v", s.Failed, s.Skipped)
	}
	if diff := cmp.Diff(map[string]map[string]string{"feed": {"naver": "1"}}, s.Unpublished); diff != "" {
		t.Errorf("unpublished (-want +got):\n%s", diff)
	}
	o := s.Shops[1].Stages["feed"].Latest
	if diff := cmp.Diff([]string{"google", "meta"}, o.Published()); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	// The JSON's message is for people; error stays as the child wrote it.
	if o.Message != "naver: drop guard" || o.Error != res.Error {
		t.Errorf("message %q, error %q", o.Message, o.Error)
	}
	if m := s.Shops[0].Stages["feed"].Latest.Message; m != "" {
		t.Errorf("a success has message %q", m)
	}
}
