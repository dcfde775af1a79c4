package collect_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/collect"
	"github.com/feedbatch/feedbatch/stages/stagetest"
	"github.com/feedbatch/feedbatch/store/memstore"
)

func TestStageContract(t *testing.T) {
	var src string // a copy of kr.csv the next day's feed changes
	stagetest.Run(t, collect.New(), func(t *testing.T) stages.Job {
		b, err := os.ReadFile(filepath.Join("testdata", "kr.csv"))
		if err != nil {
			t.Fatal(err)
		}
		src = filepath.Join(t.TempDir(), "kr.csv")
		if err := os.WriteFile(src, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return newJob(memstore.New(), manifest.Source{URL: "file://" + src}, "KRW", nil)
	}, stagetest.Change(func(t *testing.T, job stages.Job) stages.Job {
		// The next day, the shop's feed has new prices.
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("15000"), []byte("16000"))
		if err := os.WriteFile(src, b, 0o644); err != nil {
			t.Fatal(err)
		}
		job.RunID = "2026-11-24"
		job.ManifestKey = "runs/" + job.RunID + "/manifest.parquet"
		return job
	}))
}

func TestStageContractFullRebuild(t *testing.T) {
	// With the source state removed before every run, each run rebuilds the
	// catalog: the output must still be byte-identical.
	stagetest.Run(t, rebuild{collect.New()}, func(t *testing.T) stages.Job {
		return newJob(memstore.New(), manifest.Source{URL: fileURL(t, "basic.csv")}, "USD",
			map[string]string{collect.OptMaxBadShare: "0.9"})
	})
}

type rebuild struct{ *collect.Stage }

func (r rebuild) Run(ctx context.Context, job stages.Job) (stages.Result, error) {
	job.Store.Delete(ctx, collect.SourceStateKey(job.Row.ShopID))
	return r.Stage.Run(ctx, job)
}
