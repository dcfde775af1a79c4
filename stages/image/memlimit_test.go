package image

import (
	"math"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"sync/atomic"
	"testing"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// TestMemoryLimit: image.memory_mb lowers the Go soft memory limit while
// the stage runs and restores it after; a lower limit already set is kept.
// The image server (in this process) records the limit in force.
func TestMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(debug.SetMemoryLimit(-1))
		http.NotFound(w, r)
	}))
	defer srv.Close()
	st := memstore.New()
	putCatalog(t, st, "s", []catalog.Product{{ID: "1", ImageLink: srv.URL + "/a.jpg"}})
	for _, tc := range []struct {
		name          string
		process, want int64
		opt           string
	}{
		{"default", math.MaxInt64, 160 << 20, ""},
		{"option", math.MaxInt64, 300 << 20, "300"},
		{"off", math.MaxInt64, math.MaxInt64, "0"},
		{"process lower", 100 << 20, 100 << 20, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(tc.process)
			opts := map[string]string{"image.max_fail_share": "1"}
			if tc.opt != "" {
				opts["image.memory_mb"] = tc.opt
			}
			if _, err := testStage().Run(t.Context(), testJob(st, "s", opts)); err != nil {
				t.Fatal(err)
			}
			if got := seen.Load(); got != tc.want {
				t.Errorf("limit during the run %d, want %d", got, tc.want)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.process {
				t.Errorf("limit after the run %d, want %d restored", got, tc.process)
			}
		})
	}
}
