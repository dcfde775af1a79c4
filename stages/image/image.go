// Package image is the image stage: for every product image URL of a shop's
// catalog it makes the platform-ready image (resized and letterboxed JPEG,
// see imgproc), stores it content-addressed under shops/<shop>/images/, and
// keeps an index (see Index) that the feed stage reads.
//
// Downloads go through an SSRF-safe client (see fetch) or a mirror
// (Row.Options["image.mirror"]). Daily runs are incremental: an image whose
// source answers 304 to a conditional GET, or whose bytes are unchanged, is
// not processed again. One bad image never fails the shop; it is counted by
// reason in the result record, and the child fails only when the failed share
// passes image.max_fail_share.
//
// Defaults were measured with bench/image.sh (IMAGE_BENCH_LATENCY=1:
// 1000x1000 JPEGs from a server answering after 200 ms, 2 cores): 3.2
// images/s at concurrency 1, 5.5 at 4, 8.4 at 8, 13.4 at 16 (imgproc
// Version 2); CPU per image does not grow with the concurrency, because
// decodes never exceed GOMAXPROCS.
//
// Options (Row.Options; declared in Options, listed by `feedbatch options`):
//
//	image.mirror          file:///dir, store:prefix or <root>/prefix: read https://host/p from <mirror>/host/p
//	image.revalidate      "true" (default): conditional GET for known images; "false": trust the index, no requests
//	image.concurrency     images in flight (default 8*GOMAXPROCS: downloads wait on the network; decodes are capped separately)
//	image.per_host        requests in flight per host (default 16: a shop's images mostly come from one CDN host)
//	image.decodes         decodes at once (default GOMAXPROCS); memory is also capped by image.decode_mb
//	image.decode_mb       estimated decode+resize memory in flight, in MiB (default 768; see imgproc.MemoryEstimate)
//	image.memory_mb       Go soft memory limit while the stage runs, in MiB (default 160; 0: leave the process's);
//	                      the garbage collector works harder near it instead of letting the heap double
//	                      (bench/image.sh, 200 mixed shots: peak RSS 241 -> 166 MB, CPU per image within noise)
//	image.max_fail_share  failed share of images above which the child fails (default 0.5)
//	image.max_bytes       per-image download limit (default 20 MB)
//	image.max_megapixels  per-image pixel limit read from the header before decoding (default 64)
//	image.timeout         per-image total time, a Go duration (default 60s)
//	image.retries         retries of a transient failure (timeout, 5xx, 429, network), backoff 1 s doubling (default 2)
//	image.ports           ports allowed, comma-separated (default 80,443)
//	image.gc_days         delete processed images that neither this run's nor the previous index references and
//	                      that are older than this many days (default 0: keep everything)
//	image.upscale         "true" (default): small images are enlarged to fill the box; "false": centred as they are
//
// Environment: FEEDBATCH_IMAGE_ALLOW_NETS (see EnvAllowNets) lets downloads
// reach listed private or loopback prefixes, e.g. a local image server.
package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	stdimage "image"
	"log/slog"
	"net/url"
	"os"
	"path"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/delivery"
	"github.com/feedbatch/feedbatch/internal/retry"
	"github.com/feedbatch/feedbatch/internal/safehttp"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/image/fetch"
	"github.com/feedbatch/feedbatch/stages/image/imgproc"
	"github.com/feedbatch/feedbatch/stages/platform"
	"github.com/feedbatch/feedbatch/store"
)

// Drop reasons besides fetch's ("http_<status>", "timeout", "too_large",
// "ssrf_refused", "bad_url", "too_many_redirects", "network_error") and
// the mirror's "not_found".
const (
	ReasonNotAnImage  = "not_an_image"
	ReasonPixelLimit  = "pixel_limit"
	ReasonDecodeError = "decode_error"
)

// EnvAllowNets lists CIDR prefixes or addresses (comma separated) that
// image downloads may reach although they are loopback or private
// ("127.0.0.1/32" for a local image server), like collect's
// FEEDBATCH_COLLECT_ALLOW_NETS. Empty: only public addresses. Ports still
// come from image.ports.
const EnvAllowNets = "FEEDBATCH_IMAGE_ALLOW_NETS"

// Config holds what the manifest cannot set: test seams and deployment
// facts. The zero value is the production default.
type Config struct {
	// Fetch adjusts the HTTP client (tests allow loopback here; image.ports
	// and size/time options from the row override the matching fields).
	Fetch fetch.Config
	// Root is the store's root URL, used to recognise image.mirror URLs under
	// it; "" reads stages.EnvRoot.
	Root string
}

// Stage is the image stage.
type Stage struct {
	cfg      Config
	allowErr error
}

// New returns the image stage with production settings. Downloads may
// reach the private prefixes listed in FEEDBATCH_IMAGE_ALLOW_NETS (none by
// default); an invalid list is reported by Run.
func New() *Stage {
	s := &Stage{}
	if v := os.Getenv(EnvAllowNets); v != "" {
		s.cfg.Fetch.Allow, s.allowErr = safehttp.ParseAllowNets(v)
	}
	return s
}

// NewWithConfig returns the image stage with cfg (tests, embedding).
func NewWithConfig(cfg Config) *Stage { return &Stage{cfg: cfg} }

// Name implements stages.Stage.
func (*Stage) Name() string { return "image" }

// options are the parsed Row.Options and spec.
type options struct {
	spec          imgproc.Spec
	mirror        string
	revalidate    bool
	concurrency   int
	perHost       int
	decodes       int
	decodeMemory  int64
	memoryLimit   int64
	maxFailShare  float64
	retries       int
	gcDays        int
	maxBytes      int64
	maxPixels     int64
	timeout       time.Duration
	ports         []uint16
	includeExtras bool
}

// Option names (Row.Options), declared in Options.
const (
	OptMirror        = "image.mirror"
	OptRevalidate    = "image.revalidate"
	OptConcurrency   = "image.concurrency"
	OptPerHost       = "image.per_host"
	OptDecodes       = "image.decodes"
	OptDecodeMB      = "image.decode_mb"
	OptMemoryMB      = "image.memory_mb"
	OptMaxFailShare  = "image.max_fail_share"
	OptMaxBytes      = "image.max_bytes"
	OptMaxMegapixels = "image.max_megapixels"
	OptTimeout       = "image.timeout"
	OptRetries       = "image.retries"
	OptPorts         = "image.ports"
	OptGCDays        = "image.gc_days"
	OptUpscale       = "image.upscale"
)

var declared = []stages.Option{
	stages.Location(OptMirror, "read https://host/p from <mirror>/host/p instead of downloading: file:///dir, store:prefix or a path under the root"),
	stages.Bool(OptRevalidate, true, "conditional GET for known images; false trusts the index and sends no requests"),
	{Name: OptConcurrency, Kind: stages.KindInt, Min: 1, Max: 256, Bounded: true, Doc: "images in flight (default 8*GOMAXPROCS: downloads wait on the network; decodes are capped separately)"},
	stages.Int(OptPerHost, 16, 1, 64, "requests in flight per host (a shop's images mostly come from one CDN host)"),
	{Name: OptDecodes, Kind: stages.KindInt, Min: 1, Max: 64, Bounded: true, Doc: "decodes at once (default GOMAXPROCS); memory is also capped by image.decode_mb"},
	stages.Int(OptDecodeMB, 768, 16, 1<<20, "estimated decode+resize memory in flight, in MiB (see imgproc.MemoryEstimate)"),
	stages.Int(OptMemoryMB, 160, 0, 1<<20, "Go soft memory limit while the stage runs, in MiB (0: leave the process's)"),
	stages.Float(OptMaxFailShare, 0.5, 0, 1, "failed share of images above which the child fails"),
	stages.Int(OptMaxBytes, 20<<20, 1024, 1<<30, "per-image download limit in bytes"),
	stages.Int(OptMaxMegapixels, imgproc.DefaultMaxPixels>>20, 1, 1024, "per-image pixel limit, read from the header before decoding, in 2^20 pixels"),
	stages.Duration(OptTimeout, 60*time.Second, time.Millisecond, 24*time.Hour, "per-image total time"),
	stages.Int(OptRetries, 2, 0, 10, "retries of a transient failure (timeout, 5xx, 429, network), backoff 1 s doubling"),
	stages.Ports(OptPorts, "80,443", "ports downloads may use"),
	stages.Int(OptGCDays, 0, 0, 3650, "delete processed images no index references that are older than this many days (0: keep everything)"),
	stages.Bool(OptUpscale, true, "small images are enlarged to fill the box; false: centred as they are"),
}

// Options implements stages.Optioner.
func (*Stage) Options() []stages.Option { return slices.Clone(declared) }

var declaredSet = stages.NewOptions(declared)

func parseOptions(job stages.Job) (options, error) {
	row := job.Row
	cfg, err := stages.JobConfig(job, declaredSet)
	if err != nil {
		return options{}, err
	}
	o := options{
		revalidate:    cfg.Bool(OptRevalidate),
		concurrency:   8 * runtime.GOMAXPROCS(0),
		perHost:       int(cfg.Int(OptPerHost)),
		decodes:       runtime.GOMAXPROCS(0),
		decodeMemory:  cfg.Int(OptDecodeMB) << 20,
		memoryLimit:   cfg.Int(OptMemoryMB) << 20,
		maxFailShare:  cfg.Float(OptMaxFailShare),
		retries:       int(cfg.Int(OptRetries)),
		gcDays:        int(cfg.Int(OptGCDays)),
		maxBytes:      cfg.Int(OptMaxBytes),
		maxPixels:     cfg.Int(OptMaxMegapixels) << 20,
		timeout:       cfg.Duration(OptTimeout),
		mirror:        cfg.String(OptMirror),
		includeExtras: row.Image.Additional,
	}
	if cfg.Set(OptConcurrency) {
		o.concurrency = int(cfg.Int(OptConcurrency))
	}
	if cfg.Set(OptDecodes) {
		o.decodes = int(cfg.Int(OptDecodes))
	}
	if cfg.Set(OptPorts) {
		o.ports = cfg.Ports(OptPorts)
	}
	spec, err := specFor(row)
	if err != nil {
		return o, err
	}
	spec.NoUpscale = !cfg.Bool(OptUpscale)
	o.spec = spec
	return o, nil
}

// specFor is the row's ImageSpec with defaults filled in and each platform's
// minimum applied.
func specFor(row manifest.Row) (imgproc.Spec, error) {
	is, def := row.Image, manifest.DefaultImageSpec
	s := imgproc.Spec{Width: int(is.Width), Height: int(is.Height), Quality: int(is.Quality)}
	if s.Width == 0 {
		s.Width = int(def.Width)
	}
	if s.Height == 0 {
		s.Height = int(def.Height)
	}
	if s.Quality == 0 {
		s.Quality = int(def.Quality)
	}
	bgs := is.Background
	if bgs == "" {
		bgs = def.Background
	}
	bg, err := imgproc.ParseBackground(bgs)
	if err != nil {
		return s, err
	}
	s.Background = bg
	for _, p := range row.Platforms {
		spec, _ := platform.Lookup(p)
		if m := spec.MinImageSide; s.Width < m || s.Height < m {
			// Keep the aspect of the box: scale it up until both sides fit.
			f := max(float64(m)/float64(s.Width), float64(m)/float64(s.Height), 1)
			s.Width, s.Height = int(float64(s.Width)*f+0.5), int(float64(s.Height)*f+0.5)
		}
	}
	return s, s.Validate()
}

// counters are the run's figures, reported in Result.Counts and Dropped.
type counters struct {
	mu      sync.Mutex
	counts  map[string]int64
	dropped map[string]int64
}

func (c *counters) add(k string, n int64) {
	c.mu.Lock()
	c.counts[k] += n
	c.mu.Unlock()
}

// Counts keys reported in the result record.
const (
	CountRequests    = "requests"             // source fetches (HTTP GETs or mirror reads/stats)
	CountConditional = "conditional_requests" // of which sent with validators
	CountNotModified = "not_modified"         // answered 304 (or mirror validator equal)
	CountDownloaded  = "downloaded_bytes"
	CountDecodes     = "decodes"
	CountProcessed   = "processed"  // new images written
	CountReused      = "reused"     // index entry kept without processing
	CountSameBytes   = "same_bytes" // downloaded, but bytes unchanged: not processed
	CountExisting    = "existing"   // output already in the store (same bytes elsewhere): not processed
	CountStaleKept   = "stale_kept" // transient failure, previous entry kept
	CountFailed      = "failed"     // images dropped
	CountTransient   = "failed_transient"
	CountRetries     = "retries" // retried transient failures
	CountDeleted     = "deleted" // unreferenced images removed (image.gc_days)
)

// Run implements stages.Stage.
func (s *Stage) Run(ctx context.Context, job stages.Job) (stages.Result, error) {
	row := job.Row
	log := job.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := stages.Result{Counts: map[string]int64{}, Dropped: map[string]int64{}}
	if s.allowErr != nil {
		return res, stages.Permanentf("%s: %v", EnvAllowNets, s.allowErr)
	}
	o, err := parseOptions(job)
	if err != nil {
		return res, stages.Permanentf("image options: %w", err)
	}
	if o.memoryLimit > 0 {
		// Only ever lower the limit the process runs with; restore it after.
		if old := debug.SetMemoryLimit(-1); o.memoryLimit < old {
			debug.SetMemoryLimit(o.memoryLimit)
			defer debug.SetMemoryLimit(old)
		}
	}
	src, err := s.source(job.Store, o)
	if err != nil {
		return res, stages.Permanent(err)
	}
	if c, ok := src.(interface{ CloseIdleConnections() }); ok {
		defer c.CloseIdleConnections()
	}
	old, err := loadOrRebuild(ctx, job.Store, row.ShopID, log)
	if err != nil {
		return res, err
	}
	r := &runner{
		job: job, o: o, src: src, old: old, log: log,
		specStr:  o.spec.String(),
		next:     &Index{Entries: make(map[string]Entry, old.Len())},
		inflight: map[string]chan struct{}{},
		c:        &counters{counts: res.Counts, dropped: res.Dropped},
		hosts:    map[string]chan struct{}{},
		decodes:  make(chan struct{}, o.decodes),
		memory:   semaphore.NewWeighted(o.decodeMemory),
	}
	log.Info("image start", "spec", r.specStr, "previous", old.Len(), "mirror", o.mirror, "revalidate", o.revalidate)
	total, err := r.run(ctx)
	res.ItemsIn = total
	res.ItemsOut = int64(r.next.Len())
	res.Bytes = r.bytes.Load()
	if err != nil {
		return res, err
	}
	if err := checkFailShare(res, total, o.maxFailShare); err != nil {
		return res, err
	}
	failed := res.Counts[CountFailed]
	wrote, n, err := r.next.save(ctx, job.Store, row.ShopID, old)
	if err != nil {
		return res, err
	}
	res.Bytes += n
	res.Outputs = []string{IndexKey(row.ShopID)}
	res.Unchanged = !wrote && res.Counts[CountProcessed] == 0
	if o.gcDays > 0 {
		n, err := collectGarbage(ctx, job.Store, row.ShopID, old, r.next, nowFunc().Add(-time.Duration(o.gcDays)*24*time.Hour))
		res.Counts[CountDeleted] = n
		if err != nil {
			// The index is published; leftover images cost only storage.
			log.Warn("image garbage collection stopped", "err", err, "deleted", n)
		}
	}
	log.Info("image done", "images", total, "out", res.ItemsOut, "processed", res.Counts[CountProcessed],
		"reused", res.Counts[CountReused], "failed", failed, "index_written", wrote)
	return res, nil
}

// loadOrRebuild reads the shop's index; an unreadable one is rebuilt from
// nothing: outputs are content-addressed, so known images are found in the
// store again without decoding.
func loadOrRebuild(ctx context.Context, st store.Store, shopID string, log *slog.Logger) (*Index, error) {
	old, err := LoadIndex(ctx, st, shopID)
	if errors.Is(err, ErrBadIndex) {
		log.Warn("image index unreadable, rebuilding it", "err", err)
		return &Index{Entries: map[string]Entry{}}, nil
	}
	return old, err
}

// checkFailShare fails the run when more than maxShare of its total images
// failed: retryably when most failures were transient (timeouts, 5xx,
// network: the source may be back on retry), else permanently.
func checkFailShare(res stages.Result, total int64, maxShare float64) error {
	failed := res.Counts[CountFailed]
	if total == 0 || float64(failed)/float64(total) <= maxShare {
		return nil
	}
	err := fmt.Errorf("%d of %d images failed (%.0f%% > image.max_fail_share %.0f%%): %v",
		failed, total, 100*float64(failed)/float64(total), 100*maxShare, res.Dropped)
	if 2*res.Counts[CountTransient] > failed {
		return err
	}
	return stages.Permanent(err)
}

func (s *Stage) source(st store.Store, o options) (source, error) {
	if o.mirror != "" {
		root := s.cfg.Root
		if root == "" {
			root = os.Getenv(stages.EnvRoot)
		}
		return newMirror(o.mirror, root, st, o.maxBytes)
	}
	fc := s.cfg.Fetch
	fc.MaxBytes = o.maxBytes
	fc.TotalTimeout = o.timeout
	fc.PerHost = o.perHost
	if o.ports != nil {
		fc.Ports = o.ports
	}
	return fetch.New(fc), nil
}

// runner is one Run's state.
type runner struct {
	job     stages.Job
	o       options
	src     source
	old     *Index
	log     *slog.Logger
	specStr string

	mu       sync.Mutex
	next     *Index
	inflight map[string]chan struct{}
	bytes    atomic.Int64

	c       *counters
	hostsMu sync.Mutex
	hosts   map[string]chan struct{}
	decodes chan struct{}
	memory  *semaphore.Weighted
}

// run streams the catalog's image URLs (each once) to the workers and
// returns how many distinct URLs there were.
func (r *runner) run(ctx context.Context) (int64, error) {
	g, gctx := errgroup.WithContext(ctx)
	urls := make(chan string, r.o.concurrency)
	var total int64
	g.Go(func() error {
		defer close(urls)
		seen := map[string]struct{}{}
		key := catalog.CatalogKey(r.job.Row.ShopID, r.job.Row.CatalogRun(r.job.RunID))
		err := catalog.Read(gctx, r.job.Store, key, func(p catalog.Product) error {
			links := []string{p.ImageLink}
			if r.o.includeExtras {
				links = append(links, p.AdditionalImageLinks...)
			}
			for _, l := range links {
				l = strings.TrimSpace(l)
				if l == "" {
					continue
				}
				if _, dup := seen[l]; dup {
					continue
				}
				seen[l] = struct{}{}
				total++
				select {
				case urls <- l:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return stages.Permanentf("catalog: %w", err)
		}
		return err
	})
	var done atomic.Int64
	for range r.o.concurrency {
		g.Go(func() error {
			for u := range urls {
				if err := r.one(gctx, u); err != nil {
					return err
				}
				if n := done.Add(1); n%1000 == 0 {
					r.log.Info("image progress", "done", n)
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return total, err
}

// host limits requests per host; it returns the release function.
func (r *runner) host(ctx context.Context, rawURL string) (func(), error) {
	h := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		h = strings.ToLower(u.Host)
	}
	r.hostsMu.Lock()
	ch, ok := r.hosts[h]
	if !ok {
		ch = make(chan struct{}, r.o.perHost)
		r.hosts[h] = ch
	}
	r.hostsMu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *runner) keep(e Entry) {
	r.mu.Lock()
	r.next.Entries[e.URL] = e
	r.mu.Unlock()
}

func (r *runner) drop(reason string, transient bool) {
	r.c.mu.Lock()
	r.c.dropped[reason]++
	r.c.counts[CountFailed]++
	if transient {
		r.c.counts[CountTransient]++
	}
	r.c.mu.Unlock()
}

// one handles one image URL: download it (conditionally when the previous
// run kept it), reuse the previous output when the source is unchanged,
// else produce the image. It returns an error only for failures of the
// stage itself (store writes, cancellation); bad images are dropped.
func (r *runner) one(ctx context.Context, rawURL string) error {
	prev, hasPrev := r.old.Lookup(rawURL)
	hasPrev = hasPrev && prev.Spec == r.specStr
	if hasPrev && !r.o.revalidate {
		r.keep(prev)
		r.c.add(CountReused, 1)
		return nil
	}
	resp, handled, err := r.download(ctx, rawURL, prev, hasPrev)
	if err != nil || handled {
		return err
	}
	r.c.add(CountDownloaded, int64(len(resp.Body)))
	sum := sha256.Sum256(resp.Body)
	sha := hex.EncodeToString(sum[:])
	if hasPrev && prev.SourceSHA256 == sha {
		r.c.add(CountSameBytes, 1)
		r.c.add(CountReused, 1)
		prev.ETag, prev.LastModified = resp.Validators.ETag, resp.Validators.LastModified
		r.keep(prev)
		return nil
	}
	return r.produce(ctx, Entry{
		URL: rawURL, Spec: r.specStr, Key: ImageKey(r.job.Row.ShopID, sha, r.specStr),
		ETag: resp.Validators.ETag, LastModified: resp.Validators.LastModified,
		SourceSHA256: sha, SourceBytes: int64(len(resp.Body)),
		Width: r.o.spec.Width, Height: r.o.spec.Height,
	}, resp.Body)
}

// download fetches rawURL under the per-host limit, conditionally when the
// previous run kept it (hasPrev). handled reports that the URL needs no
// further work: it failed (dropped, or the previous entry kept after a
// transient failure) or is not modified (previous entry kept).
func (r *runner) download(ctx context.Context, rawURL string, prev Entry, hasPrev bool) (resp fetch.Response, handled bool, err error) {
	var v fetch.Validators
	if hasPrev {
		v = fetch.Validators{ETag: prev.ETag, LastModified: prev.LastModified}
	}
	release, err := r.host(ctx, rawURL)
	if err != nil {
		return resp, true, err
	}
	resp, err = r.get(ctx, rawURL, v)
	release()
	if err != nil {
		if ctx.Err() != nil {
			return resp, true, ctx.Err()
		}
		fe, ok := errors.AsType[*fetch.Error](err)
		if !ok {
			return resp, true, fmt.Errorf("image %s: %w", rawURL, err)
		}
		if fe.Transient && hasPrev {
			r.keep(prev)
			r.c.add(CountStaleKept, 1)
			r.log.Warn("image kept from previous run", "url", rawURL, "reason", fe.Reason, "err", err)
			return resp, true, nil
		}
		r.drop(fe.Reason, fe.Transient)
		r.log.Debug("image dropped", "url", rawURL, "reason", fe.Reason, "err", err)
		return resp, true, nil
	}
	if resp.NotModified && hasPrev {
		r.c.add(CountNotModified, 1)
		r.c.add(CountReused, 1)
		// A 304 may omit validators (Go's server drops Last-Modified when
		// it sends an ETag): keep the ones we had.
		if resp.Validators.ETag != "" {
			prev.ETag = resp.Validators.ETag
		}
		if resp.Validators.LastModified != "" {
			prev.LastModified = resp.Validators.LastModified
		}
		r.keep(prev)
		return resp, true, nil
	}
	if resp.NotModified { // 304 to an unconditional request: treat as bad
		r.drop("http_304", false)
		return resp, true, nil
	}
	return resp, false, nil
}

// produce makes e's output from the source bytes b, unless the store has
// it already (same bytes under another URL, or a run that stopped before
// writing its index), and keeps e. Concurrent workers with the same bytes
// wait for the first one instead of decoding twice.
func (r *runner) produce(ctx context.Context, e Entry, b []byte) error {
	f, cfg, err := imgproc.Config(b, r.o.maxPixels)
	if err != nil {
		r.drop(procReason(err), false)
		r.log.Debug("image dropped", "url", e.URL, "reason", procReason(err), "err", err)
		return nil
	}
	e.SourceFormat, e.SourceWidth, e.SourceHeight = string(f), cfg.Width, cfg.Height
	if wait, done := r.claim(e.Key); wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		defer done()
	}
	if info, err := r.job.Store.Stat(ctx, e.Key); err == nil {
		e.Bytes = info.Size
		e.ProcessedAt = info.ModTime.UTC().Truncate(time.Second)
		r.c.add(CountExisting, 1)
		r.keep(e)
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("image %s: stat %s: %w", e.URL, e.Key, err)
	}
	out, err := r.process(ctx, b, cfg, f)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.drop(procReason(err), false)
		r.log.Debug("image dropped", "url", e.URL, "reason", procReason(err), "err", err)
		return nil
	}
	if err := r.job.Store.Put(ctx, e.Key, bytes.NewReader(out.JPEG), delivery.PutOptions(e.Key)); err != nil {
		return fmt.Errorf("image %s: write %s: %w", e.URL, e.Key, err)
	}
	r.bytes.Add(int64(len(out.JPEG)))
	r.c.add(CountProcessed, 1)
	e.Bytes = int64(len(out.JPEG))
	e.ProcessedAt = nowFunc().UTC().Truncate(time.Second)
	r.keep(e)
	return nil
}

// collectGarbage deletes processed images under the shop's images/ prefix
// that neither index references and that were written before cutoff. An
// image dropped from the index today is kept at least until the next run
// (the feed stage may have read the previous index), and content-addressed
// keys are never rewritten, so ModTime is the time the image was made.
func collectGarbage(ctx context.Context, st store.Store, shopID string, old, cur *Index, cutoff time.Time) (int64, error) {
	keep := make(map[string]struct{}, cur.Len())
	for _, ix := range []*Index{old, cur} {
		for _, e := range ix.Entries {
			keep[e.Key] = struct{}{}
		}
	}
	var doomed []string
	prefix := path.Dir(IndexKey(shopID)) + "/"
	err := st.List(ctx, prefix, func(info store.Info) error {
		if _, ok := keep[info.Key]; ok || !strings.HasSuffix(info.Key, ".jpg") || !info.ModTime.Before(cutoff) {
			return nil
		}
		doomed = append(doomed, info.Key)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", prefix, err)
	}
	var n int64
	for _, k := range doomed {
		if err := st.Delete(ctx, k); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, fmt.Errorf("delete %s: %w", k, err)
		}
		n++
	}
	return n, nil
}

// retryBackoff is the wait before the first retry of a transient failure;
// it doubles for each further one. Tests shorten it.
var retryBackoff = time.Second

// get fetches with up to o.retries retries of transient failures (timeouts,
// 5xx, 429, network errors).
func (r *runner) get(ctx context.Context, rawURL string, v fetch.Validators) (fetch.Response, error) {
	p := retry.Policy{
		Attempts: r.o.retries + 1,
		Base:     retryBackoff,
		Retryable: func(err error) bool {
			fe, ok := errors.AsType[*fetch.Error](err)
			return ok && fe.Transient
		},
		OnRetry: func(int, time.Duration, error) { r.c.add(CountRetries, 1) },
	}
	return retry.Do(ctx, p, func(ctx context.Context) (fetch.Response, error) {
		r.c.add(CountRequests, 1)
		if v != (fetch.Validators{}) {
			r.c.add(CountConditional, 1)
		}
		return r.src.Get(ctx, rawURL, v)
	})
}

// claim marks key as being produced by the caller (done must be called
// when finished), or returns a channel closed when its producer finishes.
func (r *runner) claim(key string) (wait <-chan struct{}, done func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := r.inflight[key]; ok {
		return ch, nil
	}
	ch := make(chan struct{})
	r.inflight[key] = ch
	return nil, func() {
		r.mu.Lock()
		delete(r.inflight, key)
		r.mu.Unlock()
		close(ch)
	}
}

// nowFunc is the clock; tests replace it.
var nowFunc = time.Now

// process decodes and renders under the decode limits: at most o.decodes at
// once and at most o.decodeMemory estimated bytes in flight (an image
// larger than the whole budget runs alone).
func (r *runner) process(ctx context.Context, b []byte, cfg stdimage.Config, f imgproc.Format) (imgproc.Result, error) {
	select {
	case r.decodes <- struct{}{}:
	case <-ctx.Done():
		return imgproc.Result{}, ctx.Err()
	}
	defer func() { <-r.decodes }()
	w := min(imgproc.MemoryEstimate(cfg, f, r.o.spec), r.o.decodeMemory)
	if err := r.memory.Acquire(ctx, w); err != nil {
		return imgproc.Result{}, err
	}
	defer r.memory.Release(w)
	r.c.add(CountDecodes, 1)
	return imgproc.Process(b, r.o.spec, r.o.maxPixels)
}

// procReason maps an imgproc error to its drop reason.
func procReason(err error) string {
	switch {
	case errors.Is(err, imgproc.ErrNotAnImage):
		return ReasonNotAnImage
	case errors.Is(err, imgproc.ErrPixelLimit):
		return ReasonPixelLimit
	}
	return ReasonDecodeError
}
