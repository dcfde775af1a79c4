package collect_test

import (
	"context"
	"testing"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/collect"
	"github.com/feedbatch/feedbatch/stages/stagetest"
	"github.com/feedbatch/feedbatch/store/memstore"
)

func TestStageContract(t *testing.T) {
	stagetest.Run(t, collect.New(), func(t *testing.T) stages.Job {
		return newJob(memstore.New(), manifest.Source{URL: fileURL(t, "kr.csv")}, "KRW", nil)
	})
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
