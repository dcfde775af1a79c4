package fakestage_test

import (
	"testing"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/all/internal/fakestage"
	"github.com/feedbatch/feedbatch/stages/stagetest"
	"github.com/feedbatch/feedbatch/store/memstore"
)

func TestStageContract(t *testing.T) {
	stagetest.Run(t, fakestage.New(), func(t *testing.T) stages.Job {
		return stages.Job{RunID: "r1", ManifestKey: "runs/r1/manifest.parquet", Store: memstore.New(),
			Row: manifest.Row{ShopID: "s1", Name: "Shop", OriginIndex: -1, Options: map[string]string{fakestage.OptGreeting: "hi"}}}
	})
}
