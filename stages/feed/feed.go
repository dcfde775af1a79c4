// Package feed is the feed stage: it streams a shop's catalog Parquet into
// each ad platform's feed format (Google Merchant Center RSS 2.0 XML, Meta
// catalog CSV, Naver Shopping EP TSV), validates every item against the
// platform's rules, gzips the result and publishes it atomically to the
// stable key the platform fetches: shops/<shop-id>/feeds/<platform>.<ext>.gz.
//
// How one run goes:
//
//  1. The catalog is read once; every product's text is cleaned once (valid
//     UTF-8, no character XML 1.0 forbids) and handed to every platform's
//     renderer, each in its own goroutine.
//  2. Each renderer validates its own copy of the product (drops are counted
//     as "<platform>/<reason>"), writes the item and gzips the stream into a
//     spooled temporary file, so the item count is known before anything is
//     published and memory stays flat.
//  3. Each platform is then published on its own: an empty feed is never
//     published; a feed whose item count fell by more than
//     feed.max_drop_share (default 0.5) from the live one is refused unless
//     the job is forced. A published feed is followed by
//     <platform>.meta.json (count, bytes, sha256, the object's ETag, run
//     id, time), which the next run's guard reads while the live feed still
//     has that ETag and size; otherwise (a child killed between the two
//     writes) the guard counts the live feed's items. Platforms that pass
//     are published even if another fails; the child then fails,
//     permanently if every failure was a guard or bad input, and the
//     refused platforms keep their previous feed.
//
// Output is deterministic: fixed field order, no timestamps in the feed or in
// the gzip header, and a compression that depends only on the bytes.
//
// Choices, with the figures behind them (bench/feed.sh, 1M products):
//
//   - Spool, not two passes. The item count must be known before publishing.
//     Counting in a first pass would read the catalog twice (about 4 s of CPU
//     per million products for the Parquet decode alone, plus a second
//     download on S3); spooling costs a local write of the gzipped feed
//     (about 80 MB per million Google items). The spooled file is then
//     streamed to Store.Put, which is atomic: a failed or refused platform
//     leaves the previous feed in place, and nothing is held in memory.
//   - One catalog read for every platform: each platform renders in its own
//     goroutine from the same cleaned batches.
//   - Compression is pipelined (asyncWriter): formatting and gzip run on two
//     cores. Block-parallel gzip (github.com/klauspost/pgzip) is not used: a
//     child renders up to three platforms, each with a formatting and a
//     compression goroutine, which already fills the cores a child gets.
//   - The gzip objects are stored as application/gzip without
//     Content-Encoding, so an HTTP client that undoes Content-Encoding
//     cannot hand a platform's .gz fetcher plain text.
//   - Hand-rolled XML escaping: cleanText removes what XML 1.0 forbids
//     first, so only & < > and CR need escaping; unlike encoding/xml it
//     drops forbidden characters instead of replacing them with U+FFFD.
//   - Formatting without allocation: each platform builds an item with
//     appends into one reused []byte (escaping tables, prices with
//     strconv.Append*, no fmt, no strings.Builder) and writes it at once;
//     the sink owns the product copy a platform validates, and product
//     batches are recycled once every platform is done with them. Text
//     checks test 8 bytes at a time (cleanText, appendXMLText) and return
//     clean text as is. Descriptions are cleaned only when a platform writes
//     them (Naver does not).
//   - GC target 400 while rendering (DefaultGCPercent; GOGC wins when set):
//     the live heap is a few batches, but every product read is fresh
//     garbage. It saves about 0.9 s of CPU per million Google items for
//     about 50 MB more peak RSS (still flat: 84 MB at 100k, 98 MB at 1M).
//
// Figures (bench/feed.sh, 1M products, 2 shared cores, CPU seconds; the
// catalog read alone is 3.9 s; formatting = render - gzip alone - read):
//
//	           gzip alone  render (wall)  formatting         Python stdlib (wall)
//	google     4.9         12.6 (8.6)     3.7 = 76% of gzip  42.1 (42.1): x4.9 wall
//	meta       3.7         10.4 (5.8)     2.7 = 72%          36.2 (36.3): x6.2 wall
//	naver      1.6          6.4 (4.4)     0.8 = 47%          35.3 (35.3): x8.0 wall
//	all three              20.5 (13.0)                       113.6 (113.8): x8.8 wall
//
// Before the append-based writers: google formatting 6.3 s (126% of gzip),
// meta 158%, naver 299%. With Go's default GC target the Google render is
// 13.5 s (formatting 96% of gzip); at gzip level 1 it is 9.4 s CPU / 5.2 s
// wall for a 32% larger file (106 MB instead of 80 MB). What is left is
// mostly outside formatting: the Parquet decode (3.9 s) and gzip itself;
// ten times the Python figure in wall time would need under 4.2 s for
// Google, less than gzip level 6 alone takes on one core.

package feed

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/delivery"
	"github.com/feedbatch/feedbatch/internal/spool"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/platform"
	"github.com/feedbatch/feedbatch/store"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"
)

// Options read from the manifest row (Row.Options).
const (
	// OptMaxDropShare is the largest share (0..1) by which a platform's item
	// count may fall from the last published feed; default 0.5.
	OptMaxDropShare = "feed.max_drop_share"
	// OptSiteURL is the shop's home page for the feed's channel link;
	// default: scheme and host of the first product link.
	OptSiteURL = "feed.site_url"
	// OptGzipLevel is the gzip level, 1 (fastest) to 9; default 6.
	OptGzipLevel = "feed.gzip_level"
	// OptImageBaseURL, with the image stage's index, rewrites image links to
	// the processed images (see images.go).
	OptImageBaseURL = "feed.image_base_url"
)

// DefaultMaxDropShare is the guard's threshold when the row sets none.
const DefaultMaxDropShare = 0.5

// stageOptions are the stage's own options; Options adds the platforms'.
var stageOptions = []stages.Option{
	stages.Float(OptMaxDropShare, DefaultMaxDropShare, 0, 1,
		"largest share by which a platform's item count may fall from the live feed before publishing is refused"),
	stages.URL(OptSiteURL, "the shop's home page for the feed's channel link (default: scheme and host of the first product link)"),
	{Name: OptGzipLevel, Kind: stages.KindInt, Min: 1, Max: 9, Bounded: true,
		Doc: "gzip level of the published feeds, 1 (fastest) to 9 (default: the compressor's default)"},
	stages.URL(OptImageBaseURL, "base URL of the processed images; with the image index, image links point there (default: the deployment's CloudFront URL)"),
}

// Options implements stages.Optioner: the stage's options and every
// registered platform's.
func (*Stage) Options() []stages.Option {
	return append(slices.Clone(stageOptions), platform.Options()...)
}

func (s *Stage) options() stages.Options { return stages.NewOptions(s.Options()) }

// DefaultGCPercent is the garbage collector's target while the stage
// renders (unless GOGC is set). The live heap is small (one batch per
// platform in flight) but every product's strings are fresh garbage, so with
// Go's default of 100 the collector runs hundreds of times per million
// products. At 400 a 1M-item Google render takes 12.6 s of CPU instead of
// 13.5 s in bench/feed.sh, and peak RSS stays flat (about 50 MB more).
const DefaultGCPercent = 400

// Errors are checked with errors.Is.
var (
	// ErrGuard marks a feed refused by the drop guard.
	ErrGuard = errors.New("feed: item count fell past the guard")
	// ErrEmpty marks a feed with no valid item, which is never published.
	ErrEmpty = errors.New("feed: no valid item")
)

// nowFunc is the clock for meta.json; tests replace it.
var nowFunc = time.Now

// Stage is the feed stage.
type Stage struct {
	// TempDir holds the spooled feeds while they are rendered; "" is
	// os.TempDir().
	TempDir string
	// Images loads a shop's image index, to point image links at the
	// processed images; nil leaves the catalog's links. The graph
	// (stages/all) wires the image stage's index here and decides when it
	// is read.
	Images stages.ImageIndexLoader
}

// New returns the feed stage.
func New() *Stage { return &Stage{} }

// Name implements stages.Stage.
func (*Stage) Name() string { return "feed" }

// Meta is what shops/<id>/feeds/<platform>.meta.json records about the last
// published feed.
type Meta struct {
	Platform string `json:"platform"`
	// Key is the feed's store key.
	Key string `json:"key"`
	// Count is the number of items in the feed: what the guard compares.
	Count int64 `json:"count"`
	// Bytes is the gzipped size, RawBytes the size before gzip.
	Bytes    int64 `json:"bytes"`
	RawBytes int64 `json:"raw_bytes"`
	// SHA256 is the hex digest of the gzipped object.
	SHA256 string `json:"sha256"`
	// ETag is the store's ETag of the feed object right after it was
	// published: the guard trusts Count only while the live object still has
	// this ETag and size (see guardReference).
	ETag string `json:"etag,omitempty"`
	// RunID is the run that published it.
	RunID       string    `json:"run_id"`
	PublishedAt time.Time `json:"published_at"`
}

// Run implements stages.Stage.
func (s *Stage) Run(ctx context.Context, job stages.Job) (stages.Result, error) {
	log := job.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := stages.Result{Dropped: map[string]int64{}, Counts: map[string]int64{}, Platforms: map[string]stages.PlatformResult{}}
	opts, err := stages.JobConfig(job, s.options())
	if err != nil {
		return res, err
	}
	maxDrop := opts.Float(OptMaxDropShare)
	level := gzip.DefaultCompression
	if opts.Set(OptGzipLevel) {
		level = int(opts.Int(OptGzipLevel))
	}
	names := slices.Clone(job.Row.Platforms)
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		return res, stages.Permanentf("manifest row names no platform")
	}
	cfg := Config{Country: job.Row.Country, Options: opts}
	plats := make([]Platform, 0, len(names))
	for _, n := range names {
		p, err := NewPlatform(n, cfg)
		if err != nil {
			return res, stages.Permanent(err)
		}
		plats = append(plats, p)
	}
	images, err := s.loadImageMap(ctx, job, opts)
	if err != nil {
		return res, err
	}

	key := catalog.CatalogKey(job.Row.ShopID, job.Row.CatalogRun(job.RunID))
	cat, err := catalog.Open(ctx, job.Store, key)
	if errors.Is(err, store.ErrNotFound) {
		return res, stages.Permanent(err)
	}
	if err != nil {
		return res, err
	}
	defer cat.Close()

	ch := Channel{ShopID: job.Row.ShopID, Title: strings.TrimSpace(singleLine(cleanText(job.Row.Name)))}
	if v := opts.String(OptSiteURL); v != "" {
		u, ok := normURL(v)
		if !ok {
			return res, stages.Permanentf("option %s=%q: want an absolute http(s) URL", OptSiteURL, v)
		}
		ch.Link = u
	}
	if ch.Title == "" {
		ch.Title = job.Row.ShopID
	}
	r := &Renderer{Platforms: plats, Channel: ch, Level: level, TempDir: s.TempDir, Images: images}
	if os.Getenv("GOGC") == "" {
		r.GCPercent = DefaultGCPercent
	}
	outs, err := r.Render(ctx, cat.Next)
	defer func() {
		for _, o := range outs {
			o.Remove()
		}
	}()
	res.ItemsIn = r.ItemsIn
	if err != nil {
		return res, err
	}

	var errs []error
	for _, o := range outs {
		name := o.Platform.Name()
		res.Counts[platform.ItemsKey(name)] = o.Items
		res.Counts[platform.RawBytesKey(name)] = o.RawBytes
		for reason, n := range o.Dropped {
			res.Dropped[platform.DroppedKey(name, reason)] += n
		}
		meta, err := publish(ctx, job, log, o, maxDrop)
		if err != nil {
			res.Platforms[name] = stages.PlatformResult{Status: stages.PlatformFailed, Items: o.Items, Reason: err.Error()}
			log.Warn("feed not published", "platform", name, "items", o.Items, "err", err)
			errs = append(errs, fmt.Errorf("feed %s: %w", name, err))
			continue
		}
		log.Info("feed published", "platform", name, "key", meta.Key, "items", o.Items,
			"dropped", o.DroppedTotal(), "bytes", o.Bytes, "raw_bytes", o.RawBytes)
		res.Platforms[name] = stages.PlatformResult{Status: stages.PlatformPublished, Items: o.Items}
		res.ItemsOut += o.Items
		res.Bytes += o.Bytes
		res.Outputs = append(res.Outputs, meta.Key, MetaKey(job.Row.ShopID, name))
	}
	if len(errs) == 0 {
		return res, nil
	}
	err = errors.Join(errs...)
	allPermanent := true
	for _, e := range errs {
		allPermanent = allPermanent && errors.Is(e, stages.ErrPermanent)
	}
	if allPermanent {
		return res, stages.Permanent(err)
	}
	return res, err
}

// publish applies the empty-feed rule and the drop guard, then stores the
// feed and its meta.json.
func publish(ctx context.Context, job stages.Job, log *slog.Logger, o *Output, maxDrop float64) (Meta, error) {
	shop := job.Row.ShopID
	name := o.Platform.Name()
	if o.Items == 0 {
		return Meta{}, stages.Permanent(fmt.Errorf("%w: 0 of %d items valid (dropped: %s); previous feed kept",
			ErrEmpty, o.ItemsIn, o.dropSummary()))
	}
	prev, err := guardReference(ctx, job.Store, shop, o.Platform, log)
	switch {
	case err == nil:
	case errors.Is(err, errUnjudgeable):
		// Without the last count the guard cannot judge: refuse, unless forced.
		if !job.Force {
			return Meta{}, stages.Permanent(fmt.Errorf("%w: %v; previous feed kept (re-run with --force to publish)", ErrGuard, err))
		}
		log.Warn("unjudgeable drop guard ignored by force", "platform", name, "err", err)
	default:
		return Meta{}, err // transient: retry
	}
	if prev.Known && prev.Count > 0 && o.Items < prev.Count {
		fell := float64(prev.Count-o.Items) / float64(prev.Count)
		if fell > maxDrop {
			if !job.Force {
				return Meta{}, stages.Permanent(fmt.Errorf(
					"%w: %d items, %d in %s: fell %.1f%% > %s %.1f%%; previous feed kept (re-run with --force to publish)",
					ErrGuard, o.Items, prev.Count, prev.From, 100*fell, OptMaxDropShare, 100*maxDrop))
			}
			log.Warn("drop guard overridden by force", "platform", name, "items", o.Items, "previous", prev.Count)
		}
	}
	if prev.Facts != nil && prev.Facts.SHA256 == o.SHA256 {
		// The live feed is this one byte for byte and its facts say so:
		// nothing to write, and an identical re-run changes no object.
		log.Info("feed unchanged since it was published", "platform", name, "run", prev.Facts.RunID)
		return *prev.Facts, nil
	}
	meta := Meta{
		Platform: name, Key: FeedKey(shop, o.Platform), Count: o.Items, Bytes: o.Bytes,
		RawBytes: o.RawBytes, SHA256: o.SHA256, RunID: job.RunID, PublishedAt: nowFunc().UTC(),
	}
	f := o.Reader()
	// The object is a .gz file: application/gzip and no Content-Encoding, so
	// an HTTP client that undoes Content-Encoding cannot hand a platform's
	// .gz fetcher plain text; caches revalidate it after a few minutes
	// (package delivery decides both).
	if err := job.Store.Put(ctx, meta.Key, f, delivery.PutOptions(meta.Key)); err != nil {
		return Meta{}, fmt.Errorf("publish %s: %w", meta.Key, err)
	}
	// The feed is live now; its facts follow, with the ETag the guard
	// checks them by. A child killed before they land leaves the previous
	// facts, which no longer match the live object: the next guard counts
	// the live feed instead of trusting them.
	info, err := job.Store.Stat(ctx, meta.Key)
	if err != nil {
		return Meta{}, fmt.Errorf("publish %s: %w", meta.Key, err)
	}
	meta.ETag = info.ETag
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := job.Store.Put(ctx, MetaKey(shop, name), strings.NewReader(string(b)+"\n"),
		&store.PutOptions{ContentType: "application/json"}); err != nil {
		return Meta{}, fmt.Errorf("publish %s: %w", MetaKey(shop, name), err)
	}
	return meta, nil
}

// ReadMeta reads the last published feed's meta.json; a shop that never
// published gives an error matching store.ErrNotFound.
func ReadMeta(ctx context.Context, st store.Store, shopID, platform string) (Meta, error) {
	key := MetaKey(shopID, platform)
	rc, err := st.Get(ctx, key)
	if err != nil {
		return Meta{}, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	var m Meta
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&m); err != nil {
		return Meta{}, fmt.Errorf("read %s: %w", key, err)
	}
	return m, nil
}

// Output is one platform's rendered feed, spooled in a temporary file.
type Output struct {
	Platform Platform
	// File is the gzipped feed, a spool file: unlinked from the start, so a
	// killed process leaves nothing behind. Read it with Reader; Remove
	// frees it.
	File *os.File
	// ItemsIn is products seen, Items the valid ones written.
	ItemsIn, Items int64
	// Dropped counts invalid items by reason.
	Dropped map[string]int64
	// Bytes is the gzipped size, RawBytes the feed's size before gzip.
	Bytes, RawBytes int64
	// SHA256 of the gzipped file, hex.
	SHA256 string
}

// Reader reads the gzipped feed from its start.
func (o *Output) Reader() *io.SectionReader { return io.NewSectionReader(o.File, 0, o.Bytes) }

// Remove frees the spooled file.
func (o *Output) Remove() {
	if o.File != nil {
		o.File.Close()
		o.File = nil
	}
}

// DroppedTotal is the number of items dropped.
func (o *Output) DroppedTotal() int64 {
	var n int64
	for _, v := range o.Dropped {
		n += v
	}
	return n
}

func (o *Output) dropSummary() string {
	if len(o.Dropped) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range o.Dropped {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s %d", k, o.Dropped[k]))
	}
	return strings.Join(parts, ", ")
}

// Renderer renders one catalog into several platforms' feeds at once.
type Renderer struct {
	Platforms []Platform
	// Channel describes the shop; an empty Link is taken from the first
	// product with a valid link.
	Channel Channel
	// Level is the gzip level (gzip.DefaultCompression when 0).
	Level int
	// TempDir for the spooled outputs ("" = os.TempDir()).
	TempDir string
	// Images maps source image URLs to published ones (nil: none).
	Images ImageMap
	// Raw writes the feeds uncompressed (benchmarks and debugging only:
	// the stage always publishes gzip).
	Raw bool
	// GCPercent, when > 0, is the garbage collector's target percentage
	// (debug.SetGCPercent) while Render runs; the previous value is restored
	// after. It is process-wide: only the stage child, which renders one
	// shop at a time, sets it (DefaultGCPercent, unless GOGC is set).
	GCPercent int
	// ItemsIn is set by Render: the products read.
	ItemsIn int64
}

// renderBatch is how many products travel between the reader and the
// platform goroutines at a time.
const renderBatch = 512

// Render reads products from next until io.EOF and renders every platform.
// On error every spooled file is already removed; on success the caller
// removes them with Output.Remove.
func (r *Renderer) Render(ctx context.Context, next func() (catalog.Product, error)) (outs []*Output, err error) {
	if r.Level == 0 {
		r.Level = gzip.DefaultCompression
	}
	if r.GCPercent > 0 {
		defer debug.SetGCPercent(debug.SetGCPercent(r.GCPercent))
	}
	outs = make([]*Output, len(r.Platforms))
	sinks := make([]*sink, len(r.Platforms))
	defer func() {
		if err != nil {
			for _, o := range outs {
				if o != nil {
					o.Remove()
				}
			}
			outs = nil
		}
	}()
	for i, p := range r.Platforms {
		s, err := newSink(r.TempDir, p, r.Level, r.Raw)
		if err != nil {
			return outs, err
		}
		sinks[i] = s
		outs[i] = &s.out
	}
	defer func() {
		for _, s := range sinks {
			if s != nil {
				s.async.Close() // stops its goroutine; a no-op after finish
			}
		}
	}()

	g, gctx := errgroup.WithContext(ctx)
	chans := make([]chan *batch, len(sinks))
	for i, s := range sinks {
		c := make(chan *batch, 4)
		chans[i] = c
		g.Go(func() error { return s.consume(gctx, c, &r.Channel) })
	}
	// Batches are recycled once every platform is done with them, so the
	// products' array is not allocated again for every batch.
	free := make(chan *batch, 4*len(sinks)+4)
	needDesc := false
	for _, p := range r.Platforms {
		u, ok := p.(descriptionUser)
		needDesc = needDesc || !ok || u.usesDescription()
	}
	g.Go(func() error {
		defer func() {
			for _, c := range chans {
				close(c)
			}
		}()
		started := false
		for {
			var bt *batch
			select {
			case bt = <-free:
				bt.items = bt.items[:0]
			default:
				bt = &batch{items: make([]catalog.Product, 0, renderBatch), free: free}
			}
			bt.refs.Store(int32(len(chans)))
			var rerr error
			for len(bt.items) < renderBatch {
				p, err := next()
				if err != nil {
					rerr = err
					break
				}
				prepare(&p, r.Images, needDesc)
				bt.items = append(bt.items, p)
			}
			batch := bt.items
			r.ItemsIn += int64(len(batch))
			if !started {
				started = true
				if r.Channel.Link == "" {
					r.Channel.Link = siteOf(batch)
				}
			}
			if len(batch) > 0 {
				for _, c := range chans {
					select {
					case c <- bt:
					case <-gctx.Done():
						return gctx.Err()
					}
				}
			}
			if errors.Is(rerr, io.EOF) {
				return nil
			}
			if rerr != nil {
				return fmt.Errorf("read catalog: %w", rerr)
			}
			if err := gctx.Err(); err != nil {
				return err
			}
		}
	})
	if err := g.Wait(); err != nil {
		return outs, err
	}
	for _, s := range sinks {
		if err := s.finish(&r.Channel); err != nil {
			return outs, err
		}
	}
	return outs, nil
}

// siteOf is scheme://host/ of the first product with a valid link.
func siteOf(batch []catalog.Product) string {
	for i := range batch {
		if u, ok := normURL(batch[i].Link); ok {
			i := strings.Index(u, "://") + 3
			rest := u[i:]
			if k := strings.IndexAny(rest, "/?#"); k >= 0 {
				rest = rest[:k]
			}
			return u[:i] + rest + "/"
		}
	}
	return ""
}

// prepare cleans a product's text once for all platforms: valid UTF-8,
// nothing XML 1.0 forbids, no surrounding space, a plain-text description;
// and maps image links.
//
// A description is cleaned only when some platform writes it (desc).
func prepare(p *catalog.Product, images ImageMap, desc bool) {
	src := p.ImageLink
	if desc {
		p.Description = strings.TrimSpace(cleanText(p.Description))
		// Every platform wants a plain-text description (Meta: no HTML, no
		// entities; Google: plain text is always allowed). Stripping is not
		// idempotent ("&amp;amp;"), so it happens here, once.
		p.Description = stripHTML(p.Description)
	}
	for _, f := range []*string{
		&p.ID, &p.ItemGroupID, &p.Title, &p.Link, &p.MobileLink, &p.ImageLink,
		&p.Currency, &p.Availability, &p.Condition, &p.Brand, &p.GTIN, &p.MPN, &p.CategoryPath,
		&p.ProductType, &p.ShippingCountry, &p.CustomLabel0, &p.CustomLabel1, &p.CustomLabel2,
		&p.CustomLabel3, &p.CustomLabel4,
	} {
		*f = strings.TrimSpace(cleanText(*f))
	}
	if images != nil {
		p.ImageLink = lookupImage(images, src, p.ImageLink)
	}
	// The slice may share its array with the reader's: replace, never write.
	var links []string
	for i, l := range p.AdditionalImageLinks {
		c := strings.TrimSpace(cleanText(l))
		if images != nil {
			c = lookupImage(images, l, c)
		}
		if c != l && links == nil {
			links = slices.Clone(p.AdditionalImageLinks)
		}
		if links != nil {
			links[i] = c
		}
	}
	if links != nil {
		p.AdditionalImageLinks = links
	}
}

// lookupImage maps an image link by the catalog's own string (what the image
// stage fetched), then by its cleaned form.
func lookupImage(images ImageMap, raw, cleaned string) string {
	if u := images.Lookup(raw); u != raw {
		return u
	}
	return images.Lookup(cleaned)
}

// sink is one platform's output chain: bufio -> count -> gzip -> hash -> file.
type sink struct {
	p       Platform
	file    *os.File
	hash    *hashCounter
	zbuf    *bufio.Writer
	async   *asyncWriter
	gz      *gzip.Writer
	raw     *counter
	isRaw   bool
	bw      *bufio.Writer
	started bool
	out     Output
	item    catalog.Product // the product being validated and written
}

func newSink(dir string, p Platform, level int, raw bool) (*sink, error) {
	f, err := spool.Create(dir, "feedbatch-feed-"+p.Name()+"-*.gz")
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", p.Name(), err)
	}
	h := &hashCounter{w: f}
	if !raw {
		h.h = sha256.New() // the published file's digest
	}
	zbuf := bufio.NewWriterSize(h, 256<<10)
	gz, err := gzip.NewWriterLevel(zbuf, level)
	if err != nil {
		f.Close()
		return nil, err
	}
	var next io.Writer = gz
	if raw {
		next = zbuf
	}
	// Formatting and compression run in two goroutines (see asyncWriter).
	async := newAsyncWriter(next, 256<<10, 4)
	count := &counter{w: async}
	return &sink{
		p: p, file: f, hash: h, zbuf: zbuf, gz: gz, async: async, isRaw: raw, raw: count, bw: bufio.NewWriterSize(count, 256<<10),
		out: Output{Platform: p, File: f, Dropped: map[string]int64{}},
	}, nil
}

// batch is products on their way from the reader to every platform's sink.
type batch struct {
	items []catalog.Product
	// refs is the number of sinks still to render it; the last one puts it
	// back on free.
	refs atomic.Int32
	free chan<- *batch
}

// release marks the batch done by one sink.
func (b *batch) release() {
	if b.refs.Add(-1) == 0 {
		select {
		case b.free <- b:
		default:
		}
	}
}

// descriptionUser is implemented by a platform that may not write the
// description: then the description is not cleaned for it (the most
// expensive field to clean). A platform without the method gets it cleaned.
type descriptionUser interface {
	usesDescription() bool
}

func (s *sink) consume(ctx context.Context, in <-chan *batch, ch *Channel) error {
	for bt := range in {
		batch := bt.items
		if !s.started {
			s.started = true
			if err := s.p.WriteHeader(s.bw, *ch); err != nil {
				return fmt.Errorf("feed %s: %w", s.p.Name(), err)
			}
		}
		// The platform's own copy of each product lives in the sink (a local
		// would escape to the heap through the interface call: one
		// allocation per item and platform).
		p := &s.item
		for i := range batch {
			*p = batch[i]
			s.out.ItemsIn++
			if reason, ok := s.p.Validate(p); !ok {
				s.out.Dropped[reason]++
				continue
			}
			if err := s.p.WriteItem(s.bw, p); err != nil {
				return fmt.Errorf("feed %s item %q: %w", s.p.Name(), p.ID, err)
			}
			s.out.Items++
		}
		*p = catalog.Product{} // hold no strings of a recycled batch
		bt.release()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *sink) finish(ch *Channel) error {
	name := s.p.Name()
	if !s.started {
		if err := s.p.WriteHeader(s.bw, *ch); err != nil {
			return fmt.Errorf("feed %s: %w", name, err)
		}
	}
	if err := s.p.WriteFooter(s.bw); err != nil {
		return fmt.Errorf("feed %s: %w", name, err)
	}
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("feed %s: %w", name, err)
	}
	if err := s.async.Close(); err != nil {
		return fmt.Errorf("feed %s: %w", name, err)
	}
	if !s.isRaw {
		if err := s.gz.Close(); err != nil {
			return fmt.Errorf("feed %s: gzip: %w", name, err)
		}
	}
	// gzip wrote through a bufio.Writer around the hash.
	if err := s.zbuf.Flush(); err != nil {
		return fmt.Errorf("feed %s: %w", name, err)
	}
	s.out.RawBytes = s.raw.n
	s.out.Bytes = s.hash.n
	if s.hash.h != nil {
		s.out.SHA256 = hex.EncodeToString(s.hash.h.Sum(nil))
	}
	return nil
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type hashCounter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if c.h != nil {
		c.h.Write(p[:n])
	}
	c.n += int64(n)
	return n, err
}
