package manifest

import (
	"strings"
	"testing"
)

// TestFieldText: every field DiffRows can name reads as plain text, never
// as a Go value (no "map[", no "[]", no braces).
func TestFieldText(t *testing.T) {
	a := Row{ShopID: "s", Name: "A", Source: Source{URL: "a.csv", Options: map[string]string{"encoding": "euc-kr", "delimiter": "tab"}},
		Platforms: []string{"google", "naver"}, Currency: "KRW", Country: "KR", Image: DefaultImageSpec, OutputPrefix: "shops/s/",
		Options: map[string]string{"feed.max_drop_share": "0.5"}}
	b := Row{ShopID: "s", Name: "B", Source: Source{URL: "b.csv", Format: "csv", Query: "select\n 1", Mapping: map[string]string{"id": "sku"}},
		Platforms: []string{"google"}, Image: ImageSpec{Width: 1, Height: 2, Quality: 3, Background: "000000", Additional: true}}
	d := DiffRows([]Row{a}, []Row{b})
	if len(d.Changed) != 1 {
		t.Fatalf("diff: %+v", d)
	}
	for _, f := range d.Changed[0].Fields {
		for _, r := range []Row{a, b} {
			got := FieldText(r, f)
			if got == "" || strings.ContainsAny(got, "[]{}\n") || strings.Contains(got, "map") {
				t.Errorf("%s: %q", f, got)
			}
		}
	}
	if got := FieldText(a, "platforms"); got != "google,naver" {
		t.Errorf("platforms %q", got)
	}
	if got := FieldText(a, "source.options"); got != "delimiter=tab, encoding=euc-kr" {
		t.Errorf("source.options %q", got)
	}
	if got := FieldText(b, "currency"); got != `""` {
		t.Errorf("empty currency %q", got)
	}
}
