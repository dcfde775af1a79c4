package delivery

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/store/memstore"
)

// TestListFeeds reads meta.json leniently: extra and missing fields, a
// missing or broken file, and a size that disagrees with the object.
func TestListFeeds(t *testing.T) {
	st := memstore.New()
	put := func(key, body string) {
		t.Helper()
		if err := st.Put(t.Context(), key, strings.NewReader(body), nil); err != nil {
			t.Fatal(err)
		}
	}
	put("shops/a/feeds/google.xml.gz", "12345")
	put("shops/a/feeds/google.meta.json", `{"platform":"google","key":"shops/a/feeds/google.xml.gz","count":3,"bytes":5,"sha256":"ab","run_id":"r1","published_at":"2026-11-23T02:00:00Z","future_field":{"x":1}}`)
	put("shops/a/feeds/meta.csv.gz", "123")
	put("shops/a/feeds/meta.meta.json", `{"count":7}`)
	put("shops/a/images/x.jpg", "img")
	put("shops/b/feeds/naver.tsv.gz", "1")
	put("shops/b/feeds/naver.meta.json", `{"count":`)
	put("shops/c/feeds/google.xml.gz", "1")
	put("shops/d/feeds/google.xml.gz", "1")
	put("shops/d/feeds/google.meta.json", `{"count":1,"bytes":99}`)
	put("runs/r1/report.html", "x")

	got, err := ListFeeds(t.Context(), st, "https://cdn.example/", "")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Shop, Platform, URL string
		Items               int64
		Published           bool
		Problem             string
	}
	var rows []row
	for _, f := range got {
		rows = append(rows, row{f.Shop, f.Platform, f.URL, f.Items, f.PublishedAt.Equal(time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)), f.Problem})
	}
	want := []row{
		{"a", "google", "https://cdn.example/shops/a/feeds/google.xml.gz", 3, true, ""},
		{"a", "meta", "https://cdn.example/shops/a/feeds/meta.csv.gz", 7, false, ""},
		{"b", "naver", "https://cdn.example/shops/b/feeds/naver.tsv.gz", -1, false, "unreadable meta.json: unexpected EOF"},
		{"c", "google", "https://cdn.example/shops/c/feeds/google.xml.gz", -1, false, "no meta.json"},
		{"d", "google", "https://cdn.example/shops/d/feeds/google.xml.gz", 1, false, "meta.json says 99 bytes, the object has 1"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("feeds (-want +got):\n%s", diff)
	}
	one, err := ListFeeds(t.Context(), st, "http://127.0.0.1:8080/", "a")
	if err != nil || len(one) != 2 || one[0].Bytes != 5 || one[0].SHA256 != "ab" || one[0].RunID != "r1" {
		t.Errorf("--shop a: %+v, %v", one, err)
	}
	if _, err := ListFeeds(t.Context(), st, "http://x/", "../runs"); err == nil {
		t.Error("a shop id with a slash is accepted")
	}
}
