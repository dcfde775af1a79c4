package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

const testRun = "2026-11-23"

var t0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

// fixture writes a run of n shops with failures and one re-run:
//   - collect fails for i%10 == 3 (HTTP 503);
//   - feed fails for i%10 == 5 (drop guard), is skipped where collect failed;
//   - image has no result yet for i%10 == 7 (running);
//   - re-run 1 takes shop 3 from collect (succeeds, image still running) and
//     shop 5 from feed (fails again, for another reason; image succeeds).
func fixture(t testing.TB, ctx context.Context, st store.Store, n int) {
	t.Helper()
	rows := make([]manifest.Row, n)
	for i := range rows {
		name := fmt.Sprintf("Shop %d Store", i)
		switch i {
		case 1:
			name = `<script>alert("x")</script> & Co`
		case 2:
			name = "서울 상점"
		}
		rows[i] = manifest.Row{
			Index: int64(i), ShopID: fmt.Sprintf("shop-%03d", i), Name: name,
			Source:    manifest.Source{URL: fmt.Sprintf("https://shop%d.example/catalog.csv", i)},
			Platforms: []string{"google", "meta"}, Currency: "EUR", Country: "DE",
			Image: manifest.DefaultImageSpec, OutputPrefix: fmt.Sprintf("shops/shop-%03d/", i), OriginIndex: -1,
		}
	}
	mkey := manifest.Key(testRun)
	if err := manifest.Save(ctx, st, mkey, manifest.Meta{RunID: testRun, CreatedAt: t0}, rows, nil); err != nil {
		t.Fatal(err)
	}
	put := func(key string, v any) {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, key, bytes.NewReader(b), nil); err != nil {
			t.Fatal(err)
		}
	}
	put("runs/"+testRun+"/run.json", map[string]any{
		"run_id": testRun, "state": "submitted", "engine": "local", "version": "v1.2.3", "created_at": t0,
		"groups": []any{map[string]any{"offset": 0, "size": n, "stages": []string{"collect", "feed", "image"}}},
		"jobs": []any{
			// The graph (feed and image wait for collect) comes from the
			// jobs' dependencies.
			map[string]any{"stage": "collect", "offset": 0, "size": n, "job_id": "arr-collect", "name": "r-collect"},
			map[string]any{"stage": "feed", "offset": 0, "size": n, "job_id": "arr-feed", "name": "r-feed", "depends_on": []string{"r-collect"}},
			map[string]any{"stage": "image", "offset": 0, "size": n, "job_id": "arr-image", "name": "r-image", "depends_on": []string{"r-collect"}},
		},
	})
	result := func(mkey, stage string, row manifest.Row, index int64, ok bool, errMsg string, ms int64, start time.Time) stages.Result {
		r := stages.Result{
			Stage: stage, RunID: testRun, ManifestKey: mkey, Index: index, OriginIndex: row.OriginIndex,
			ShopID: row.ShopID, Status: stages.StatusSucceeded, Attempt: 1,
			JobID: fmt.Sprintf("job-%s:%d", stage, index), StartedAt: start,
			FinishedAt: start.Add(time.Duration(ms) * time.Millisecond), DurationMS: ms,
			ItemsIn: 100, ItemsOut: 98, Bytes: 4096,
		}
		if mkey != manifest.Key(testRun) {
			r.JobID = "rerun-" + r.JobID
		}
		if index%4 == 0 {
			r.JobID = "" // a record without its job id: run.json tells it
		}
		if !ok {
			r.Status, r.Error, r.ItemsOut = stages.StatusFailed, stage+" shop "+row.ShopID+": "+errMsg, 0
			r.Permanent = true
		}
		if stage == "feed" {
			r.Dropped = map[string]int64{"google/missing_price": 1, "meta/missing_image": 2}
			if ok {
				r.Counts = map[string]int64{"google_items": 99, "meta_items": 98}
				r.ItemsOut = 197
				p := row.OutputPrefix + "feeds/"
				r.Outputs = []string{p + "google.xml.gz", p + "google.meta.json", p + "meta.csv.gz", p + "meta.meta.json"}
			}
		}
		return r
	}
	for i, row := range rows {
		start := t0.Add(time.Duration(i) * time.Second)
		collectOK := i%10 != 3
		put(stages.ResultKey(mkey, "collect", row.Index), result(mkey, "collect", row, row.Index, collectOK, "fetch https://shop.example/catalog.csv: HTTP 503 Service Unavailable", 1500+int64(i%7)*100, start))
		if !collectOK {
			continue
		}
		put(stages.ResultKey(mkey, "feed", row.Index), result(mkey, "feed", row, row.Index, i%10 != 5, "drop guard: item count fell from 1000 to 98 (90%), more than 50%", 800, start.Add(2*time.Second)))
		if i%10 != 7 {
			put(stages.ResultKey(mkey, "image", row.Index), result(mkey, "image", row, row.Index, true, "", 30000, start.Add(2*time.Second)))
		}
	}

	if n < 6 {
		return
	}
	// Re-run 1: shop 3 from collect, shop 5 from feed.
	rr := []manifest.Row{rows[3], rows[5]}
	for j := range rr {
		rr[j].OriginRun, rr[j].OriginIndex, rr[j].Index = testRun, rr[j].Index, int64(j)
	}
	rkey := manifest.RerunKey(testRun, "1")
	if err := manifest.Save(ctx, st, rkey, manifest.Meta{RunID: testRun, Rerun: "1", OriginRun: testRun, CreatedAt: t0.Add(3 * time.Hour)}, rr, nil); err != nil {
		t.Fatal(err)
	}
	put("runs/"+testRun+"/reruns/1/run.json", map[string]any{
		"run_id": testRun, "rerun": 1, "origin_run": testRun, "state": "submitted", "engine": "local",
		"groups": []any{
			map[string]any{"offset": 0, "size": 1, "stages": []string{"collect", "feed", "image"}},
			map[string]any{"offset": 1, "size": 1, "stages": []string{"feed", "image"}},
		},
		"jobs": []any{
			map[string]any{"stage": "collect", "offset": 0, "size": 1, "job_id": "single-collect-0"},
			map[string]any{"stage": "feed", "offset": 0, "size": 2, "job_id": "rr-feed"},
			map[string]any{"stage": "image", "offset": 0, "size": 2, "job_id": "rr-image"},
		},
	})
	rs := t0.Add(3 * time.Hour)
	put(stages.ResultKey(rkey, "collect", 0), result(rkey, "collect", rr[0], 0, true, "", 1200, rs))
	put(stages.ResultKey(rkey, "feed", 0), result(rkey, "feed", rr[0], 0, true, "", 700, rs.Add(2*time.Second)))
	put(stages.ResultKey(rkey, "feed", 1), result(rkey, "feed", rr[1], 1, false, "google: price \"12,00\" is not a valid price", 650, rs))
	put(stages.ResultKey(rkey, "image", 1), result(rkey, "image", rr[1], 1, true, "", 25000, rs))
}
