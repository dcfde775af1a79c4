package runs

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestToOrigin(t *testing.T) {
	rerun := &Record{RunID: "r", Rerun: 2, OriginRun: "r", Groups: []Group{
		{Offset: 0, Size: 2, Stages: []string{"feed"}, OriginIndexes: "17,40"},
		{Offset: 2, Size: 3, Stages: []string{"collect"}, OriginIndexes: "3-5"},
	}}
	got, err := ToOrigin(rerun, []int64{4, 0, 9})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{5, 17}, got); diff != "" {
		t.Errorf("re-run indexes (-want +got):\n%s", diff)
	}
	daily := &Record{RunID: "r", Groups: []Group{{Offset: 0, Size: 10}}}
	if got, _ := ToOrigin(daily, []int64{4, 9}); !cmp.Equal(got, []int64{4, 9}) {
		t.Errorf("the daily run's are its own: %v", got)
	}
	bad := &Record{RunID: "r", Rerun: 1, OriginRun: "r", Groups: []Group{{Offset: 0, Size: 1, OriginIndexes: "x"}}}
	if _, err := ToOrigin(bad, []int64{0}); err == nil {
		t.Error("a broken lineage gave no error")
	}
}
