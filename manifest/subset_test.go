package manifest_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/manifest"
)

func TestSubset(t *testing.T) {
	day := shops(50)
	got, err := manifest.Subset(day, []int64{40, 17, 41}, "2026-11-23")
	if err != nil {
		t.Fatal(err)
	}
	var want []manifest.Row
	for i, old := range []int64{40, 17, 41} {
		r := day[old]
		r.Index = int64(i)
		r.OriginRun, r.OriginIndex = "2026-11-23", old
		want = append(want, r)
	}
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Fatalf("Subset (-want +got):\n%s", diff)
	}

	// A re-run of a re-run still points at the day's run and index.
	again, err := manifest.Subset(got, []int64{1}, "2026-11-23/reruns/1")
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Index != 0 || again[0].OriginRun != "2026-11-23" || again[0].OriginIndex != 17 || again[0].ShopID != day[17].ShopID {
		t.Errorf("re-run of re-run = index %d origin %s/%d shop %s", again[0].Index, again[0].OriginRun, again[0].OriginIndex, again[0].ShopID)
	}

	// The subset is a valid manifest and does not share maps with its input.
	if err := manifest.Write(discard{}, manifest.Meta{RunID: "2026-11-23", Rerun: "1"}, got); err != nil {
		t.Fatalf("Write subset: %v", err)
	}
	got[1].Platforms[0] = "changed"
	if day[17].Platforms[0] == "changed" {
		t.Error("Subset shares slices with its input")
	}
}

func TestSubsetErrors(t *testing.T) {
	day := shops(5)
	if _, err := manifest.Subset(day, []int64{5}, "r"); !errors.Is(err, manifest.ErrIndexOutOfRange) {
		t.Errorf("out of range: %v", err)
	}
	if _, err := manifest.Subset(day, []int64{1, 1}, "r"); !errors.Is(err, manifest.ErrInvalid) {
		t.Errorf("duplicate: %v", err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestDiffRows(t *testing.T) {
	a := shops(6)
	b := append([]manifest.Row(nil), a[1:]...) // shop 0 removed, the rest move up
	for i := range b {
		b[i].Index = int64(i)
	}
	b[1].Name = "Renamed"
	b[1].Platforms = []string{"google"}
	b[2].Source.Mapping = map[string]string{"id": "code"}
	extra := a[0]
	extra.ShopID, extra.Index = "new-shop", int64(len(b))
	b = append(b, extra)

	d := manifest.DiffRows(a, b)
	if d.Empty() {
		t.Fatal("diff is empty")
	}
	type summary struct {
		Added, Removed []string
		Changed        map[string][]string
		Moved          int
	}
	got := summary{Changed: map[string][]string{}, Moved: d.Moved}
	for _, r := range d.Added {
		got.Added = append(got.Added, r.ShopID)
	}
	for _, r := range d.Removed {
		got.Removed = append(got.Removed, r.ShopID)
	}
	for _, c := range d.Changed {
		got.Changed[c.ShopID] = c.Fields
	}
	want := summary{
		Added:   []string{"new-shop"},
		Removed: []string{a[0].ShopID},
		Changed: map[string][]string{
			a[2].ShopID: {"name", "platforms"},
			a[3].ShopID: {"source.mapping"},
		},
		Moved: 5,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DiffRows (-want +got):\n%s", diff)
	}
	if !manifest.DiffRows(a, a).Empty() {
		t.Error("DiffRows(a, a) not empty")
	}
}
