package collect_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/feedbatch/feedbatch/internal/spool/spooltest"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages/collect"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// TestKillLeavesNoSpool kills a collect child with SIGKILL while it builds
// the catalog (spooled catalog and id pairs half written): its TMPDIR must
// be empty. The old spool directory stayed.
func TestKillLeavesNoSpool(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "source.csv")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	spooltest.KillLeavesNothing(t, "TestKillHelperCollect", "FEEDBATCH_TEST_FIFO="+fifo)
}

// TestKillHelperCollect is TestKillLeavesNoSpool's child: it collects from
// a FIFO that stops after 20,000 rows. Alone it does nothing.
func TestKillHelperCollect(t *testing.T) {
	if !spooltest.IsHelper() {
		return
	}
	fifo := os.Getenv("FEEDBATCH_TEST_FIFO")
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			panic(err)
		}
		fmt.Fprintln(f, "id,title,link,image_link,price,availability")
		for i := range 20_000 {
			fmt.Fprintf(f, "P%d,Shirt %d,https://shop.example/%d,https://cdn.example/%d.jpg,59.00 USD,in stock\n", i%15_000, i, i, i)
		}
		spooltest.Ready()
	}()
	job := newJob(memstore.New(), manifest.Source{URL: "file://" + fifo}, "USD", nil)
	collect.New().Run(t.Context(), job)
}
