package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/runs"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// TestFetchURLs: with a feed base, a published shop's details and the
// feeds section give the URL each platform fetches its feed from, with the
// items published; a shop whose feed was not published has none, and
// without a base the page shows no fetch URL at all.
func TestFetchURLs(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 16)
	const base = "https://d111111abcdef8.cloudfront.net/s3cr3t/"
	rep, err := Build(ctx, st, testRun, Options{FeedBase: base})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Shop{}
	for _, s := range rep.Shops {
		byID[s.ID] = s
	}
	got := byID["shop-000"].FetchURLs
	if len(got) != 2 || got[0].Platform != "google" || got[0].URL != base+"shops/shop-000/feeds/google.xml.gz" || got[0].Items != 99 ||
		got[1].Platform != "meta" || got[1].URL != base+"shops/shop-000/feeds/meta.csv.gz" || got[1].Items != 98 || got[0].Published.IsZero() {
		t.Errorf("shop-000 fetch URLs %+v", got)
	}
	// Shop 13's collect failed (feed skipped); shop 5's feed failed twice, shop 15's once.
	for _, id := range []string{"shop-013", "shop-005", "shop-015"} {
		if u := byID[id].FetchURLs; len(u) != 0 {
			t.Errorf("%s was not published but has fetch URLs %+v", id, u)
		}
	}
	page := render(t, rep)
	for _, want := range []string{
		`<a class="fetch" href="` + base + `shops/shop-000/feeds/google.xml.gz">`,
		`"w":[{"p":"google","u":"` + base + `shops/shop-000/feeds/google.xml.gz","n":99`,
		`id="fetch-base"`, base + "shops/&lt;shop&gt;/feeds/",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, id := range []string{"shop-013", "shop-005", "shop-015"} {
		if strings.Contains(page, base+"shops/"+id+"/") {
			t.Errorf("page has a fetch URL of unpublished %s", id)
		}
	}

	rep, err = Build(ctx, st, testRun, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if page := render(t, rep); strings.Contains(page, "cloudfront") || strings.Contains(page, `id="fetch-base"`) || strings.Contains(page, `"w":`) {
		t.Error("a page without a feed base shows fetch URLs")
	}
}

// TestReasonsAsSummary: the page's failure reasons are the summary's (the
// notification's): one text for people, whoever shows it.
func TestReasonsAsSummary(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	fixture(t, ctx, st, 40)
	m, err := runs.Load(ctx, st, testRun, runs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep := FromModel(ctx, m, Options{})
	var page, sum []string
	for _, r := range rep.Reasons {
		page = append(page, fmt.Sprintf("%s %d %s: %s", r.Stage, r.Shops, r.Indexes, r.Message))
	}
	for _, r := range runs.BuildSummary(m).Reasons {
		sum = append(sum, fmt.Sprintf("%s %d %s: %s", r.Stage, r.Shops, r.Indexes, r.Reason))
	}
	if len(page) == 0 {
		t.Fatal("no reasons")
	}
	if diff := cmp.Diff(sum, page); diff != "" {
		t.Errorf("reasons: summary (-) vs page (+):\n%s", diff)
	}
}
