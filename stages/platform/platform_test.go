package platform_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/platform"
)

func TestFromResult(t *testing.T) {
	res := stages.Result{
		Counts: map[string]int64{
			platform.ItemsKey("alpha"): 10, platform.RawBytesKey("alpha"): 999,
			platform.ItemsKey("beta"): 0, "requests": 4, "source_bytes": 7,
		},
		Dropped: map[string]int64{
			platform.DroppedKey("alpha", "missing_price"): 2, platform.DroppedKey("alpha", "bad_link"): 1,
			platform.DroppedKey("gamma", "bad_currency"): 5, "timeout": 3,
		},
	}
	want := []platform.Figures{
		{Platform: "alpha", Rendered: true, Items: 10, RawBytes: 999, Dropped: map[string]int64{"missing_price": 2, "bad_link": 1}},
		{Platform: "beta", Rendered: true, Dropped: map[string]int64{}},
		{Platform: "gamma", Dropped: map[string]int64{"bad_currency": 5}},
	}
	if diff := cmp.Diff(want, platform.FromResult(res)); diff != "" {
		t.Errorf("FromResult (-want +got):\n%s", diff)
	}
	if got := platform.FromResult(stages.Result{Counts: map[string]int64{"processed": 3}, Dropped: map[string]int64{"timeout": 1}}); len(got) != 0 {
		t.Errorf("a stage without platform figures: %+v", got)
	}
}

func TestRegister(t *testing.T) {
	platform.Register(platform.Spec{Name: "regtest", MinImageSide: 300, Currencies: []string{"EUR"},
		Options: []stages.Option{stages.Bool("feed.regtest.flag", false, "doc")}})
	s, ok := platform.Lookup("regtest")
	if !ok || s.MinImageSide != 300 || !s.Accepts("EUR") || s.Accepts("USD") || !s.Accepts("") {
		t.Errorf("Lookup = %+v, %v", s, ok)
	}
	if got := platform.Options(); len(got) != 1 || got[0].Name != "feed.regtest.flag" {
		t.Errorf("Options = %v", got)
	}
	for name, spec := range map[string]platform.Spec{
		"duplicate":      {Name: "regtest"},
		"empty":          {},
		"upper":          {Name: "TikTok"},
		"foreign option": {Name: "other", Options: []stages.Option{stages.Bool("feed.regtest.x", false, "")}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			platform.Register(spec)
		})
	}
}
