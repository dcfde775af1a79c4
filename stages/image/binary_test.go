package image

import (
	"encoding/json"
	"errors"
	"image/color"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store/filestore"
)

// TestBinaryAllowNets runs the real binary (`feedbatch stage image`, a
// static build) against a local image server listening on 127.0.0.1 and
// 127.0.0.2, with FEEDBATCH_IMAGE_ALLOW_NETS set per run:
//
//  1. 127.0.0.1/32: the image there is processed, the one on 127.0.0.2 is
//     refused (ssrf_refused) and the shop still succeeds (1 of 2 failed);
//  2. 127.0.0.0/8: the refused URL is tried again and processed; the
//     accepted, unchanged image is revalidated (304), neither downloaded
//     nor decoded;
//  3. an unparsable list fails the child permanently, naming the variable.
func TestBinaryAllowNets(t *testing.T) {
	bin := testtool.Feedbatch(t, "")

	// One handler on two loopback addresses, same port.
	srv := newFixtureServer(t)
	srv.set("/a.jpg", jpegBytes(t, 300, 200, color.RGBA{255, 0, 0, 255}))
	srv.set("/b.png", pngBytes(t, 200, 300, color.RGBA{0, 0, 255, 255}))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ln2, err := net.Listen("tcp", "127.0.0.2:"+port)
	if err != nil {
		t.Skipf("127.0.0.2 not available: %v", err)
	}
	srv2 := &httptest.Server{Listener: ln2, Config: &http.Server{Handler: srv.Config.Handler}}
	srv2.Start()
	t.Cleanup(srv2.Close)

	root := t.TempDir()
	st, err := filestore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	const shop = "s1"
	mkey := manifest.Key(runID)
	row := manifest.Row{Index: 0, ShopID: shop, Name: "S", Source: manifest.Source{URL: "https://s1.example/f.csv", Format: "csv"},
		Platforms: []string{"google"}, Currency: "USD", Country: "US", OutputPrefix: "shops/s1/", OriginIndex: -1,
		Image:   manifest.ImageSpec{Width: 120, Height: 120, Quality: 80, Background: "ffffff"},
		Options: map[string]string{"image.ports": port, "image.retries": "0"}}
	if err := manifest.Save(t.Context(), st, mkey, manifest.Meta{RunID: runID}, []manifest.Row{row}, nil); err != nil {
		t.Fatal(err)
	}
	a, b := "http://127.0.0.1:"+port+"/a.jpg", "http://127.0.0.2:"+port+"/b.png"
	putCatalog(t, st, shop, []catalog.Product{{ID: "1", ImageLink: a}, {ID: "2", ImageLink: b}})

	run := func(allow string) (stages.Result, string, int) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, "stage", "image", "--index", "0")
		cmd.Env = []string{"HOME=" + t.TempDir(), "FEEDBATCH_ROOT=" + root, "FEEDBATCH_MANIFEST=" + mkey,
			"FEEDBATCH_FORCE=1", EnvAllowNets + "=" + allow}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var res stages.Result
		rc, err := st.Get(t.Context(), stages.ResultKey(mkey, "image", 0))
		if err != nil {
			t.Fatalf("result record: %v\n%s", err, out)
		}
		defer rc.Close()
		if err := json.NewDecoder(rc).Decode(&res); err != nil {
			t.Fatal(err)
		}
		return res, string(out), code
	}

	res, out, code := run("127.0.0.1/32")
	if code != 0 || res.Counts[CountProcessed] != 1 || res.Dropped["ssrf_refused"] != 1 {
		t.Fatalf("run 1: exit %d, counts %v, dropped %v\n%s", code, res.Counts, res.Dropped, out)
	}
	ix, err := LoadIndex(t.Context(), st, shop)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ix.Lookup(a); !ok || ix.Len() != 1 {
		t.Fatalf("run 1 index: %d entries, has %s: %v", ix.Len(), a, ok)
	}

	srv.takeLog()
	res, out, code = run("127.0.0.0/8")
	if code != 0 || res.Counts[CountProcessed] != 1 || res.Counts[CountDecodes] != 1 || res.Counts[CountNotModified] != 1 || len(res.Dropped) != 0 {
		t.Fatalf("run 2: exit %d, counts %v, dropped %v\n%s", code, res.Counts, res.Dropped, out)
	}
	if log := strings.Join(srv.takeLog(), "\n"); !strings.Contains(log, "GET /a.jpg cond=true") || !strings.Contains(log, "GET /b.png cond=false") {
		t.Errorf("run 2 requests:\n%s", log)
	}
	if ix, err = LoadIndex(t.Context(), st, shop); err != nil || ix.Len() != 2 {
		t.Fatalf("run 2 index: %v, %v", ix, err)
	}

	res, out, code = run("127.0.0.1/40")
	if code != stages.ExitPermanent || !strings.Contains(out, EnvAllowNets) {
		t.Fatalf("bad list: exit %d, want %d naming %s\n%s", code, stages.ExitPermanent, EnvAllowNets, out)
	}
}
