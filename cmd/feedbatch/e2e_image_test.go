package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	stageimage "github.com/feedbatch/feedbatch/stages/image"
	"github.com/feedbatch/feedbatch/stages/image/fetch"
)

// TestRunImageAllowNets runs `feedbatch run` (in-process local engine, real
// stages as child processes) against a local image server on 127.0.0.1:
// with FEEDBATCH_IMAGE_ALLOW_NETS=127.0.0.1/32 in the operator's shell the
// image child downloads and processes the image (the variable travels to
// the child like collect's); without it, the next run's child refuses the
// same URL at dial time (ssrf_refused).
func TestRunImageAllowNets(t *testing.T) {
	var jpg bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	img.Set(10, 10, color.RGBA{255, 0, 0, 255})
	if err := jpeg.Encode(&jpg, img, nil); err != nil {
		t.Fatal(err)
	}
	var gets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/a.jpg" {
			http.NotFound(w, r)
			return
		}
		gets.Add(1)
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(jpg.Bytes())
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	dir := t.TempDir()
	catalog := "id,title,description,link,image_link,price,availability,brand,gtin\n" +
		"A1,Red Shirt,Soft cotton,https://shop.example/a1," + srv.URL + "/a.jpg,59.00 EUR,in stock,Acme,0012345678905\n"
	if err := os.WriteFile(filepath.Join(dir, "shop.csv"), []byte(catalog), 0o644); err != nil {
		t.Fatal(err)
	}
	shops := fmt.Sprintf(`shops:
  - id: shop-a
    name: Shop A
    source: shop.csv
    platforms: [google]
    country: DE
    currency: EUR
    options: {image.ports: "%s", image.retries: "0", image.max_fail_share: "1"}
`, port)
	reg := filepath.Join(dir, "shops.yaml")
	if err := os.WriteFile(reg, []byte(shops), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envTestChild, "app")
	t.Setenv(envBatchEndpoint, "")
	root := filepath.Join(dir, "root")
	st := mustStore(t, root)

	for _, tc := range []struct {
		run, allow    string
		processed     int64
		refused, gets int64
	}{
		{run: "allowed", allow: "127.0.0.1/32", processed: 1, gets: 1},
		{run: "refused", allow: "", refused: 1, gets: 1},
	} {
		t.Setenv(stageimage.EnvAllowNets, tc.allow)
		out, errOut, code := runAppOut(t, "--root", root, "run", "--registry", reg, "--run", tc.run, "--vcpus", "4", "--poll", "100ms")
		if code != 0 {
			t.Fatalf("run %s: exit %d:\n%s%s", tc.run, code, out, errOut)
		}
		res, err := readResultRecord(t, st, stages.ResultKey(manifest.Key(tc.run), "image", 0))
		if err != nil {
			t.Fatalf("run %s: image result: %v", tc.run, err)
		}
		if res.Counts[stageimage.CountProcessed] != tc.processed || res.Dropped[fetch.ReasonSSRF] != tc.refused || gets.Load() != tc.gets {
			t.Errorf("run %s (allow %q): processed %d, ssrf_refused %d, server GETs %d; want %d, %d, %d",
				tc.run, tc.allow, res.Counts[stageimage.CountProcessed], res.Dropped[fetch.ReasonSSRF], gets.Load(), tc.processed, tc.refused, tc.gets)
		}
	}
}
