package feed

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/catalog/catalogtest"
	"github.com/feedbatch/feedbatch/internal/spool/spooltest"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// TestKillLeavesNoSpool kills a feed child mid-render (the catalog spooled
// by catalog.Open, every platform's feed half written) with SIGKILL: its
// TMPDIR must be empty. The old spool files (~70 MB a child) stayed.
func TestKillLeavesNoSpool(t *testing.T) {
	spooltest.KillLeavesNothing(t, "TestKillHelperRender")
}

// TestKillHelperRender is TestKillLeavesNoSpool's child; alone it does
// nothing.
func TestKillHelperRender(t *testing.T) {
	if !spooltest.IsHelper() {
		return
	}
	ctx := context.Background()
	st := memstore.New()
	var buf bytes.Buffer
	w := catalog.NewWriter(&buf)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		if err := w.Write(catalogtest.Product(i, r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "c.parquet", &buf, nil); err != nil {
		t.Fatal(err)
	}
	cr, err := catalog.Open(ctx, st, "c.parquet")
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()
	n := 0
	next := func() (catalog.Product, error) {
		if n++; n == 1500 {
			spooltest.Ready() // the sinks hold what they rendered
		}
		return cr.Next()
	}
	rd := &Renderer{Platforms: allPlatforms(t), Channel: Channel{ShopID: "s1", Title: "t"}}
	rd.Render(ctx, next)
}
