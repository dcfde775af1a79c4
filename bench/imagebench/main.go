// Command imagebench measures the image pipeline (bench/image.sh runs it
// next to sharp and vipsthumbnail).
//
//	imagebench -dir D -gen 50            write 50 synthetic 2000x2000 JPEGs to D/bench.example/ (if missing)
//	imagebench -gen-mixed 200 -in D      write 200 mixed product shots to D (if missing): 600x400 to 3000x3000,
//	                                     5% greyscale, 10% PNG (half with transparency), the rest JPEG q80-95
//	imagebench -mode proc -in D -out O   decode+resize+pad+encode every file of D (imgproc.Process) with -c
//	                                     workers, writing O/<name>.jpg; without -in: D/bench.example
//	imagebench -dir D -mode stage        the whole image stage over a file store, images read through image.mirror;
//	                                     then a second, incremental run of the same shop
//	imagebench -mode ssim -ref R -cmp name=DIR,...
//	                                     SSIM (luma, 8x8 windows) of each DIR/<name>.jpg, cropped to its content,
//	                                     against R/<name>.jpg (an unpadded libvips render)
//
// It prints images/s and the peak RSS of the process.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	stageimage "github.com/feedbatch/feedbatch/stages/image"
	"github.com/feedbatch/feedbatch/stages/image/fetch"
	"github.com/feedbatch/feedbatch/stages/image/imgproc"
	"github.com/feedbatch/feedbatch/store/filestore"
)

const host = "bench.example"

func main() {
	dir := flag.String("dir", "/tmp/feedbatch-imagebench", "image folder (images live in <dir>/bench.example/)")
	gen := flag.Int("gen", 0, "generate this many images if fewer exist, then exit")
	size := flag.Int("size", 2000, "generated image side")
	mode := flag.String("mode", "proc", "proc or stage")
	workers := flag.Int("c", runtime.GOMAXPROCS(0), "concurrent images (proc mode; stage mode: image.concurrency)")
	latency := flag.Duration("latency", 50*time.Millisecond, "latency mode: server delay per image")
	count := flag.Int("n", 200, "latency mode: images")
	perHost := flag.String("per-host", "4", "latency mode: image.per_host")
	in := flag.String("in", "", "proc mode: input folder (default <dir>/bench.example); -gen-mixed: output folder")
	out := flag.String("out", "", "proc mode: write outputs here")
	genMixed := flag.Int("gen-mixed", 0, "generate this many mixed product shots in -in, then exit")
	ref := flag.String("ref", "", "ssim mode: reference folder")
	cmpDirs := flag.String("cmp", "", "ssim mode: name=folder,... to compare")
	cpuProfile := flag.String("cpuprofile", "", "proc and stage modes: write a CPU profile here")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	switch *mode {
	case "latency":
		runLatency(*latency, *count, *perHost)
		return
	case "ssim":
		if err := runSSIM(*ref, *cmpDirs); err != nil {
			log.Fatal(err)
		}
		return
	}
	imgDir := filepath.Join(*dir, host)
	if *genMixed > 0 {
		if err := generateMixed(*in, *genMixed); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *gen > 0 {
		if err := generate(imgDir, *gen, *size); err != nil {
			log.Fatal(err)
		}
		return
	}
	if *in != "" {
		imgDir = *in
	}
	files, err := filepath.Glob(filepath.Join(imgDir, "*.jpg"))
	pngs, _ := filepath.Glob(filepath.Join(imgDir, "*.png"))
	files = append(files, pngs...)
	if err != nil || len(files) == 0 {
		log.Fatalf("no images in %s (run with -gen 50 first)", imgDir)
	}
	sort.Strings(files)
	switch *mode {
	case "proc":
		runProc(files, *workers, *out)
	case "stage":
		runStage(*dir, files, *workers)
	case "latency":
		runLatency(*latency, *count, *perHost)
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
}

// generate writes n photo-like JPEGs (smooth colour fields, edges, fine
// texture and noise; quality 90, 4:2:0), deterministically.
func generate(dir string, n, side int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range n {
		name := filepath.Join(dir, fmt.Sprintf("img%03d.jpg", i))
		if _, err := os.Stat(name); err == nil {
			continue
		}
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		img := image.NewRGBA(image.Rect(0, 0, side, side))
		f1, f2, f3 := 2+rng.Float64()*6, 2+rng.Float64()*6, 1+rng.Float64()*4
		for y := range side {
			fy := float64(y) / float64(side)
			for x := range side {
				fx := float64(x) / float64(side)
				r := 128 + 100*math.Sin(f1*fx*math.Pi+fy*3)
				g := 128 + 100*math.Sin(f2*fy*math.Pi+fx*2)
				b := 128 + 100*math.Sin(f3*(fx+fy)*math.Pi)
				if (x/40+y/40)%7 == 0 { // hard edges
					r, g, b = r*0.5, g*0.5, b*0.5
				}
				nz := float64(rng.IntN(24)) - 12
				img.SetRGBA(x, y, color.RGBA{clamp(r + nz), clamp(g + nz), clamp(b + nz), 255})
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
			return err
		}
		if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func clamp(v float64) uint8 { return uint8(max(0, min(255, v))) }

func runProc(files []string, workers int, outDir string) {
	spec := imgproc.Spec{Width: 800, Height: 800, Quality: 85, Background: color.RGBA{255, 255, 255, 255}}
	lastCPU, _ = cpuTime()
	start := time.Now()
	ch := make(chan string)
	var wg sync.WaitGroup
	var outBytes int64
	var mu sync.Mutex
	for range workers {
		wg.Go(func() {
			for f := range ch {
				b, err := os.ReadFile(f)
				if err != nil {
					log.Fatal(err)
				}
				res, err := imgproc.Process(b, spec, 0)
				if err != nil {
					log.Fatalf("%s: %v", f, err)
				}
				if outDir != "" {
					name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)) + ".jpg"
					if err := os.WriteFile(filepath.Join(outDir, name), res.JPEG, 0o644); err != nil {
						log.Fatal(err)
					}
				}
				mu.Lock()
				outBytes += int64(len(res.JPEG))
				mu.Unlock()
			}
		})
	}
	for _, f := range files {
		ch <- f
	}
	close(ch)
	wg.Wait()
	report("go imgproc.Process", len(files), time.Since(start), fmt.Sprintf("workers=%d GOMAXPROCS=%d avg_out=%dKB", workers, runtime.GOMAXPROCS(0), outBytes/int64(len(files))/1024))
}

func runStage(dir string, files []string, workers int) {
	ctx := context.Background()
	root, err := os.MkdirTemp("", "imagebench-root-*")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	st, err := filestore.New(root)
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	w := catalog.NewWriter(&buf)
	for i, f := range files {
		p := catalog.Product{ID: fmt.Sprint(i), Title: "t", Link: "https://" + host + "/p", Currency: "USD",
			Availability: catalog.AvailabilityInStock, Condition: catalog.ConditionNew,
			ImageLink: "https://" + host + "/" + filepath.Base(f)}
		if err := w.Write(p); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	const run = "bench"
	if err := st.Put(ctx, catalog.CatalogKey("bench", run), &buf, nil); err != nil {
		log.Fatal(err)
	}
	job := stages.Job{RunID: run, ManifestKey: "runs/bench/manifest.parquet", Store: st,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Row: manifest.Row{ShopID: "bench", Image: manifest.DefaultImageSpec, OriginIndex: -1,
			Options: map[string]string{"image.mirror": "file://" + dir, "image.concurrency": fmt.Sprint(workers)}}}
	stage := stageimage.New()
	for _, label := range []string{"go image stage (first run)", "go image stage (unchanged re-run)"} {
		lastCPU, _ = cpuTime()
		start := time.Now()
		res, err := stage.Run(ctx, job)
		if err != nil {
			log.Fatal(err)
		}
		report(label, len(files), time.Since(start), fmt.Sprintf("concurrency=%d GOMAXPROCS=%d decodes=%d processed=%d not_modified=%d",
			workers, runtime.GOMAXPROCS(0), res.Counts[stageimage.CountDecodes], res.Counts[stageimage.CountProcessed], res.Counts[stageimage.CountNotModified]))
	}
}

// lastCPU is the process CPU time at the previous report.
var lastCPU time.Duration

func cpuTime() (time.Duration, int64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss
}

// report prints wall-clock rate, CPU time per image (less sensitive to a
// busy machine than wall time) and peak RSS.
func report(label string, n int, d time.Duration, extra string) {
	cpu, maxrss := cpuTime()
	per := (cpu - lastCPU) / time.Duration(max(n, 1))
	lastCPU = cpu
	fmt.Printf("%-36s %3d images  %6.2f s  %6.1f images/s  cpu %6.1f ms/image  peak RSS %4d MB  %s\n",
		label, n, d.Seconds(), float64(n)/d.Seconds(), float64(per.Microseconds())/1000, maxrss/1024, extra)
}

// runLatency serves n distinct 1000x1000 JPEGs from a loopback server that
// waits `delay` before each answer (a remote CDN), and runs the image stage
// over them at several concurrency levels: how much concurrency hides the
// network on 2 cores.
func runLatency(delay time.Duration, n int, perHost string) {
	imgs := make([][]byte, n)
	base := image.NewRGBA(image.Rect(0, 0, 1000, 1000))
	for y := range 1000 {
		for x := range 1000 {
			base.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	for i := range n {
		for y := range 16 { // distinct bytes: a 16x16 block coding i
			for x := range 16 {
				base.SetRGBA(x, y, color.RGBA{uint8(i * 37), uint8(i >> 8 * 91), 0, 255})
			}
		}
		var buf bytes.Buffer
		jpeg.Encode(&buf, base, &jpeg.Options{Quality: 85})
		imgs[i] = buf.Bytes()
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i int
		if _, err := fmt.Sscanf(r.URL.Path, "/%d.jpg", &i); err != nil || i < 0 || i >= n {
			http.NotFound(w, r)
			return
		}
		time.Sleep(delay)
		w.Write(imgs[i])
	}))
	defer srv.Close()
	fmt.Printf("latency mode: %d images of 1000x1000 (%d KB), server delay %v, image.per_host=%s\n", n, len(imgs[0])>>10, delay, perHost)
	for _, c := range []int{1, 2, 4, 8, 16} {
		ctx := context.Background()
		root, _ := os.MkdirTemp("", "imagebench-lat-*")
		st, err := filestore.New(root)
		if err != nil {
			log.Fatal(err)
		}
		var buf bytes.Buffer
		w := catalog.NewWriter(&buf)
		for i := range n {
			w.Write(catalog.Product{ID: fmt.Sprint(i), Title: "t", Link: "https://x/p", Currency: "USD",
				Availability: catalog.AvailabilityInStock, Condition: catalog.ConditionNew, ImageLink: fmt.Sprintf("%s/%d.jpg", srv.URL, i)})
		}
		w.Close()
		st.Put(ctx, catalog.CatalogKey("lat", "bench"), &buf, nil)
		stage := stageimage.NewWithConfig(stageimage.Config{Fetch: fetch.Config{AnyPort: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}})
		job := stages.Job{RunID: "bench", ManifestKey: "runs/bench/manifest.parquet", Store: st,
			Row: manifest.Row{ShopID: "lat", Image: manifest.DefaultImageSpec, OriginIndex: -1,
				Options: map[string]string{"image.concurrency": fmt.Sprint(c), "image.per_host": perHost}}}
		lastCPU, _ = cpuTime()
		start := time.Now()
		res, err := stage.Run(ctx, job)
		if err != nil {
			log.Fatal(err)
		}
		report(fmt.Sprintf("go image stage, concurrency %d", c), int(res.ItemsOut), time.Since(start), fmt.Sprintf("decodes=%d", res.Counts[stageimage.CountDecodes]))
		os.RemoveAll(root)
	}
}
