package stagetest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/stagetest"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// fake publishes the shop's input ("in/<shop>") to "out/<shop>" and a
// facts file beside it, in one of three ways.
type fake struct{ publish string }

const (
	atomic      = "atomic"       // one Put per object
	deleteFirst = "delete-first" // removes the old object, then writes
	placeholder = "placeholder"  // writes an empty object, then the real one
)

func (f fake) Name() string { return "fake" }

func (f fake) Run(ctx context.Context, job stages.Job) (stages.Result, error) {
	shop := job.Row.ShopID
	rc, err := job.Store.Get(ctx, "in/"+shop)
	if err != nil {
		return stages.Result{}, fmt.Errorf("read input: %w", err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return stages.Result{}, fmt.Errorf("read input: %w", err)
	}
	out := "out/" + shop
	switch f.publish {
	case deleteFirst:
		if err := job.Store.Delete(ctx, out); err != nil && !errors.Is(err, store.ErrNotFound) {
			return stages.Result{}, err
		}
	case placeholder:
		if err := job.Store.Put(ctx, out, strings.NewReader(""), nil); err != nil {
			return stages.Result{}, err
		}
	}
	if err := job.Store.Put(ctx, out, bytes.NewReader(data), nil); err != nil {
		return stages.Result{}, err
	}
	facts := fmt.Sprintf(`{"run":%q,"bytes":%d}`, job.RunID, len(data))
	if err := job.Store.Put(ctx, out+".json", strings.NewReader(facts), nil); err != nil {
		return stages.Result{}, err
	}
	return stages.Result{ItemsOut: 1, Outputs: []string{out, out + ".json"}}, nil
}

func runFake(t *testing.T, publish string) {
	stagetest.Run(t, fake{publish}, func(t *testing.T) stages.Job {
		st := memstore.New()
		if err := st.Put(t.Context(), "in/s1", strings.NewReader("day one"), nil); err != nil {
			t.Fatal(err)
		}
		return stages.Job{RunID: "r1", ManifestKey: "runs/r1/manifest.parquet", Store: st, Attempt: 1,
			Row: manifest.Row{ShopID: "s1", OriginIndex: -1}}
	}, stagetest.Change(func(t *testing.T, job stages.Job) stages.Job {
		if err := job.Store.Put(t.Context(), "in/s1", strings.NewReader("day two"), nil); err != nil {
			t.Fatal(err)
		}
		job.RunID, job.ManifestKey = "r2", "runs/r2/manifest.parquet"
		return job
	}))
}

func TestAtomicStagePasses(t *testing.T) { runFake(t, atomic) }

// TestFake runs the suite on the fake named by $STAGETEST_FAKE, for
// TestNonAtomicStageFails.
func TestFake(t *testing.T) {
	publish := os.Getenv("STAGETEST_FAKE")
	if publish == "" {
		t.Skip("run by TestNonAtomicStageFails")
	}
	runFake(t, publish)
}

// TestNonAtomicStageFails shows that the suite catches a stage whose publish
// can be cut in the middle, which a run cancelled before it starts cannot.
func TestNonAtomicStageFails(t *testing.T) {
	for publish, want := range map[string]string{
		deleteFirst: "output out/s1 lost by a run interrupted at write 1 (DieAfterWrite out/s1)",
		placeholder: "output out/s1 is neither the previous object nor the complete new one after a run interrupted at write 1 (DieAfterWrite out/s1)",
	} {
		t.Run(publish, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^TestFake$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "STAGETEST_FAKE="+publish)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("suite on a %s stage: %v, want a failing test\n%s", publish, err, out)
			}
			for _, w := range []string{
				"--- PASS: TestFake/CancelledKeepsOutputs",
				"--- FAIL: TestFake/InterruptedPublishKeepsOutputs/DieAfterWrite1",
				want,
			} {
				if !bytes.Contains(out, []byte(w)) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
