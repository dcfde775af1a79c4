package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/delivery"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store/filestore"
)

// TestReportShowsFetchURLs: the report gives each published shop's fetch
// URL per platform from the same base as `feedbatch feeds` (--base-url,
// else https://$FEEDBATCH_PUBLIC_HOST/), and none for a shop whose feed was
// not published.
func TestReportShowsFetchURLs(t *testing.T) {
	const runID = "2026-11-23"
	dir := t.TempDir()
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	rows := []manifest.Row{
		{Index: 0, ShopID: "a", Name: "A", OriginIndex: -1, OutputPrefix: "shops/a/", Platforms: []string{"google"}},
		{Index: 1, ShopID: "b", Name: "B", OriginIndex: -1, OutputPrefix: "shops/b/", Platforms: []string{"google"}},
	}
	mkey := manifest.Key(runID)
	t0 := time.Now().UTC().Add(-time.Hour)
	if err := manifest.Save(ctx, st, mkey, manifest.Meta{RunID: runID, CreatedAt: t0}, rows, nil); err != nil {
		t.Fatal(err)
	}
	put := func(key string, v any) {
		b, ok := v.([]byte)
		if !ok {
			if b, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Put(ctx, key, bytes.NewReader(b), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, row := range rows {
		res := func(stage string) stages.Result {
			return stages.Result{Stage: stage, RunID: runID, ManifestKey: mkey, Index: row.Index, OriginIndex: -1, ShopID: row.ShopID,
				Status: stages.StatusSucceeded, Attempt: 1, StartedAt: t0, FinishedAt: t0.Add(time.Minute)}
		}
		put(stages.ResultKey(mkey, "collect", row.Index), res("collect"))
		feed := res("feed")
		if row.ShopID == "a" {
			feed.Outputs = []string{"shops/a/feeds/google.xml.gz", "shops/a/feeds/google.meta.json"}
			feed.Platforms = map[string]stages.PlatformResult{"google": {Status: stages.PlatformPublished, Items: 42}}
			put("shops/a/feeds/google.xml.gz", []byte("not really gzip"))
			put("shops/a/feeds/google.meta.json", map[string]any{"key": "shops/a/feeds/google.xml.gz", "count": 42, "published_at": t0.Add(time.Minute)})
		} else {
			feed.Status, feed.Error = stages.StatusFailed, "feed shop b: feed google: feed: no valid item: 0 of 3 items valid (dropped: missing_price 3); previous feed kept"
			feed.Platforms = map[string]stages.PlatformResult{"google": {Status: stages.PlatformFailed, Reason: "feed: no valid item: 0 of 3 items valid (dropped: missing_price 3); previous feed kept"}}
		}
		put(stages.ResultKey(mkey, "feed", row.Index), feed)
	}
	t.Setenv("FEEDBATCH_ENGINE_DIR", filepath.Join(dir, ".engine"))
	page := filepath.Join(dir, "runs", runID, "report.html")
	for _, tc := range []struct {
		name, host string
		args       []string
		base       string
	}{
		{"flag", "", []string{"--base-url", "https://cdn.example/s3cr3t"}, "https://cdn.example/s3cr3t/"},
		{"public host", "d111.cloudfront.net", nil, "https://d111.cloudfront.net/"},
		{"local serve", "", nil, "http://" + defaultServeAddr + "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(delivery.EnvPublicHost, tc.host)
			out, errOut, code := runAppOut(t, append([]string{"--root", dir, "report", runID, "--engine-state=false"}, tc.args...)...)
			if code != exitOK {
				t.Fatalf("report: exit %d\n%s%s", code, out, errOut)
			}
			b, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.base + "shops/a/feeds/google.xml.gz"
			if !bytes.Contains(b, []byte(`href="`+want+`"`)) {
				t.Errorf("report lacks the fetch URL %s", want)
			}
			if bytes.Contains(b, []byte(tc.base+"shops/b/")) {
				t.Errorf("report has a fetch URL of shop b, which published nothing")
			}
			// `feeds` prints the same URL.
			out, errOut, code = runAppOut(t, append([]string{"--root", dir, "feeds"}, tc.args...)...)
			if code != exitOK || !strings.Contains(out, want) {
				t.Errorf("feeds: exit %d, want %s:\n%s%s", code, want, out, errOut)
			}
		})
	}
	if _, errOut, code := runAppOut(t, "--root", dir, "report", runID, "--base-url", "ftp://x/"); code != exitUsage {
		t.Errorf("report --base-url ftp://x/: exit %d, want %d\n%s", code, exitUsage, errOut)
	}
}
