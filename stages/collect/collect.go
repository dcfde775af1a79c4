// Package collect is the collect stage: it reads one shop's catalog from its
// source (http(s), s3 or file URLs of CSV/TSV, JSON Lines or Google XML,
// gzip or zstd compressed; or a PostgreSQL query), maps and cleans every
// record into a catalog.Product, drops bad records with counted reasons,
// removes duplicate ids (last wins), and publishes the catalog as zstd
// Parquet at catalog.CatalogKey(shop, run).
//
// Memory stays flat whatever the catalog's size: records stream from the
// source through the mapper into a Parquet file spooled on local disk (one
// row group in memory), duplicate ids are found by an external sort of id
// hashes (see dedup.go), and the file is published with one streaming Put.
// Nothing is published when the run fails: not a partial catalog, and not
// one whose share of bad rows passes the shop's limit.
//
// Conditional fetches: after a successful run the source's validators
// (HTTP ETag / Last-Modified, S3 ETag, a file's size and time) are kept at
// SourceStateKey with a hash of the shop's source settings; the next run
// asks the source whether it changed and, if not and the settings are the
// same, copies the last catalog to the new run's key and reports Unchanged.
package collect

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/internal/retry"
	"github.com/feedbatch/feedbatch/internal/safehttp"
	"github.com/feedbatch/feedbatch/internal/spool"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/collect/mapping"
	"github.com/feedbatch/feedbatch/stages/collect/parse"
	"github.com/feedbatch/feedbatch/stages/collect/source"
	"github.com/feedbatch/feedbatch/store"
)

// Options read from the manifest row.
const (
	// OptMaxBadShare (Row.Options) is the share of bad rows (0..1) above
	// which the run fails and publishes nothing; default DefaultMaxBadShare.
	OptMaxBadShare = "collect.max_bad_share"
	// OptStripHTML (Source.Options) "true" strips markup from descriptions.
	OptStripHTML = "strip_html"
	// DefaultMaxBadShare is used when the row sets no limit.
	DefaultMaxBadShare = 0.2
	// OptMaxSourceBytes (Source.Options) caps the bytes read from a URL
	// source (before decompression); default DefaultMaxSourceBytes.
	OptMaxSourceBytes = "max_source_bytes"
	// DefaultMaxSourceBytes is 20 GiB, ten times the largest feeds seen.
	DefaultMaxSourceBytes = 20 << 30
)

// Drop reason for duplicate ids (not counted as bad rows).
const ReasonDuplicateID = "duplicate_id"

// version changes when the stage's output for the same input changes, so
// that a conditional fetch does not reuse a catalog made by older rules.
const version = "collect/1"

// SourceStateKey is where a shop's last fetched source version is kept.
func SourceStateKey(shopID string) string {
	return fmt.Sprintf("shops/%s/catalog/source.json", shopID)
}

// Stage is the collect stage.
type Stage struct {
	// Fetcher opens URL sources. New sets its allow-list from
	// source.EnvAllowNets.
	Fetcher source.Fetcher
	// TempDir holds the spooled catalog while it is built; "" means the
	// system's temporary directory.
	TempDir string

	allowErr error
}

// New returns the collect stage. HTTP sources may reach the private
// prefixes listed in FEEDBATCH_COLLECT_ALLOW_NETS (none by default); an
// invalid list is reported by Run.
func New() *Stage {
	s := &Stage{}
	if v := os.Getenv(source.EnvAllowNets); v != "" {
		nets, err := safehttp.ParseAllowNets(v)
		if err == nil {
			s.Fetcher.AllowNets = nets
		} else {
			s.Fetcher.AllowNets = []netip.Prefix{} // refused below
			s.allowErr = err
		}
	}
	return s
}

// Name implements stages.Stage.
func (*Stage) Name() string { return "collect" }

// declared are the stage's options (Row.Options). The source's format
// settings (Source.Options) belong to the source, not the stage.
var declared = []stages.Option{
	stages.Float(OptMaxBadShare, DefaultMaxBadShare, 0, 1,
		"share of bad rows above which the run fails and publishes nothing"),
}

var declaredSet = stages.NewOptions(declared)

// Options implements stages.Optioner.
func (*Stage) Options() []stages.Option { return slices.Clone(declared) }

// sourceState is what SourceStateKey holds.
type sourceState struct {
	Validators source.Validators `json:"validators"`
	// Config is a hash of the settings that shaped the catalog.
	Config     string           `json:"config"`
	CatalogKey string           `json:"catalog_key"`
	ItemsIn    int64            `json:"items_in"`
	ItemsOut   int64            `json:"items_out"`
	Dropped    map[string]int64 `json:"dropped,omitempty"`
	FetchedAt  time.Time        `json:"fetched_at"`
}

func configHash(row manifest.Row) string {
	b, _ := json.Marshal(struct {
		V        string
		Format   string
		Query    string
		Options  map[string]string
		Mapping  map[string]string
		Currency string
		MaxBad   string
	}{version, row.Source.Format, row.Source.Query, row.Source.Options, row.Source.Mapping, row.Currency, row.Options[OptMaxBadShare]})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (s *Stage) log(job stages.Job) *slog.Logger {
	if job.Log != nil {
		return job.Log
	}
	return slog.New(slog.DiscardHandler)
}

// errSourceRead marks a source whose connection broke while its body was
// read: the whole fetch is worth another attempt.
var errSourceRead = errors.New("source read failed")

// readAttempts is how many times a source whose body breaks mid-read is
// fetched in full before the child gives up (and AWS Batch may retry it).
const readAttempts = 3

// Run implements stages.Stage. A source whose connection breaks while it is
// read is fetched again from the start (with backoff), up to readAttempts
// times; failed requests are retried inside the fetcher.
func (s *Stage) Run(ctx context.Context, job stages.Job) (stages.Result, error) {
	log := s.log(job)
	return retry.Do(ctx, retry.Policy{
		Attempts:  readAttempts,
		Base:      cmp.Or(s.Fetcher.Backoff, time.Second),
		Retryable: func(err error) bool { return errors.Is(err, errSourceRead) },
		OnRetry: func(next int, d time.Duration, err error) {
			log.Warn("source read broke; fetching again", "attempt", next, "delay", d, "err", err)
		},
	}, func(ctx context.Context) (stages.Result, error) { return s.runOnce(ctx, job) })
}

func (s *Stage) runOnce(ctx context.Context, job stages.Job) (stages.Result, error) {
	var res stages.Result
	row := job.Row
	log := s.log(job) // the caller attaches stage, index and shop
	if s.allowErr != nil {
		return res, stages.Permanentf("%s: %v", source.EnvAllowNets, s.allowErr)
	}
	if err := store.CheckKey(catalog.CatalogKey(row.ShopID, "x")); err != nil || strings.Contains(row.ShopID, "/") || row.ShopID == "" {
		return res, stages.Permanentf("shop id %q is not usable in a store key", row.ShopID)
	}
	key := catalog.CatalogKey(row.ShopID, row.CatalogRun(job.RunID))
	cfg, err := stages.JobConfig(job, declaredSet)
	if err != nil {
		return res, err
	}
	maxBad := cfg.Float(OptMaxBadShare)
	mapper, err := mapping.New(mapping.Config{
		Mapping:   row.Source.Mapping,
		Currency:  row.Currency,
		StripHTML: isTrue(row.Source.Options[OptStripHTML]),
	})
	if err != nil {
		return res, stages.Permanent(err)
	}
	if strings.TrimSpace(row.Source.URL) == "" {
		return res, stages.Permanentf("the shop has no catalog source URL")
	}
	maxSource := int64(DefaultMaxSourceBytes)
	if v := strings.TrimSpace(row.Source.Options[OptMaxSourceBytes]); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return res, stages.Permanentf("source option %s = %q: want a positive number of bytes", OptMaxSourceBytes, v)
		}
		maxSource = n
	}
	conf := configHash(row)
	prev := s.loadState(ctx, job.Store, row.ShopID, conf, log)

	src, err := s.open(ctx, row, mapper, prev.Validators, maxSource, log)
	if err != nil {
		return res, err
	}
	if src.notModified {
		return s.reuse(ctx, job, key, prev, src.validators, log)
	}
	defer src.close()

	b, err := s.build(ctx, src.parser, mapper, s.TempDir, job, log)
	if b.file != nil {
		defer b.file.Close()
	}
	res.ItemsIn, res.Dropped, res.Counts = b.in, b.dropped, mapper.Counts
	if src.body != nil {
		res.Counts["source_bytes"] = src.body.n
	}
	if len(res.Counts) == 0 {
		res.Counts = nil
	}
	if err != nil {
		if src.body != nil && src.body.err != nil && !errors.Is(src.body.err, io.EOF) {
			// The connection broke: worth another attempt.
			return res, fmt.Errorf("source %s: %w: %w", source.Redact(row.Source.URL), errSourceRead, src.body.err)
		}
		return res, err
	}
	if err := checkBad(b, maxBad); err != nil {
		return res, err
	}
	if err := s.publish(ctx, job.Store, key, b, &res, log); err != nil {
		return res, err
	}
	if src.body != nil {
		st := sourceState{Validators: src.validators, Config: conf, CatalogKey: key, ItemsIn: b.in, ItemsOut: b.out,
			Dropped: b.dropped, FetchedAt: time.Now().UTC()}
		s.saveState(ctx, job.Store, row.ShopID, st, log)
	}
	return res, nil
}

// opened is an open source: rows to parse, and for URL sources the counted
// body and the version's validators.
type opened struct {
	parser      parse.Parser
	body        *countingReader // nil for SQL sources
	validators  source.Validators
	close       func()
	notModified bool // the source is the version prev named; nothing is open
}

// open opens the row's source: a PostgreSQL query, or a URL fetched
// conditionally on prev, sniffed and checked against the mapping.
func (s *Stage) open(ctx context.Context, row manifest.Row, mapper *mapping.Mapper, prev source.Validators, maxSource int64, log *slog.Logger) (opened, error) {
	if source.IsSQL(row.Source.URL) {
		q, err := source.OpenSQL(ctx, s.Fetcher.Secrets, row.Source.URL, row.Source.Query)
		if err != nil {
			return opened{}, err
		}
		closeFn := func() { q.Close(context.WithoutCancel(ctx)) }
		if err := mapper.CheckColumns(q.Columns()); err != nil {
			closeFn()
			return opened{}, stages.Permanentf("source %s: %v", source.Redact(row.Source.URL), err)
		}
		return opened{parser: q, close: closeFn}, nil
	}
	f, err := s.Fetcher.Fetch(ctx, row.Source.URL, prev)
	if err != nil {
		return opened{}, err
	}
	if f.NotModified {
		return opened{notModified: true, validators: f.Validators}, nil
	}
	body := &countingReader{r: f.Body, max: maxSource}
	closeFn := func() { f.Body.Close() }
	p, det, err := parse.Open(body, parse.Settings{Format: row.Source.Format, Options: row.Source.Options})
	if err != nil {
		closeFn()
		if body.err != nil {
			return opened{}, fmt.Errorf("source %s: %w: %w", source.Redact(row.Source.URL), errSourceRead, body.err)
		}
		return opened{}, stages.Permanentf("source %s: %v", source.Redact(row.Source.URL), err)
	}
	log.Info("source opened", "url", source.Redact(row.Source.URL), "format", det.Format,
		"compressed", det.Compressed, "encoding", det.Encoding, "delimiter", det.Delimiter)
	if c, ok := p.(*parse.CSV); ok {
		if err := mapper.CheckColumns(c.Header()); err != nil {
			closeFn()
			return opened{}, stages.Permanentf("source %s: %v", source.Redact(row.Source.URL), err)
		}
	}
	return opened{parser: p, body: body, validators: f.Validators, close: closeFn}, nil
}

// checkBad refuses a catalog whose share of bad rows passes maxBad, or that
// has no products.
func checkBad(b built, maxBad float64) error {
	bad := int64(0)
	for reason, n := range b.dropped {
		if reason != ReasonDuplicateID {
			bad += n
		}
	}
	if b.in > 0 && float64(bad)/float64(b.in) > maxBad {
		return stages.Permanentf("%d of %d rows are bad (%.1f%%, the shop's limit is %.1f%%): %s; nothing published",
			bad, b.in, 100*float64(bad)/float64(b.in), 100*maxBad, topReasons(b.dropped))
	}
	if b.out == 0 {
		return stages.Permanentf("the source has no usable products (%d rows read%s); nothing published", b.in, reasonsSuffix(b.dropped))
	}
	return nil
}

// publish puts the built catalog at key and records it in res.
func (s *Stage) publish(ctx context.Context, st store.Store, key string, b built, res *stages.Result, log *slog.Logger) error {
	fi, err := b.file.Stat()
	if err != nil {
		return err
	}
	if err := st.Put(ctx, key, io.NewSectionReader(b.file, 0, fi.Size()), &store.PutOptions{ContentType: "application/vnd.apache.parquet"}); err != nil {
		return fmt.Errorf("publish %s: %w", key, err)
	}
	res.ItemsOut, res.Bytes, res.Outputs = b.out, fi.Size(), []string{key}
	log.Info("catalog published", "key", key, "items_in", b.in, "items_out", b.out, "bytes", fi.Size(), "dropped", b.dropped)
	return nil
}

func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func topReasons(d map[string]int64) string {
	keys := slices.Collect(maps.Keys(d))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(d[b], d[a]), strings.Compare(a, b)) })
	var parts []string
	for _, k := range keys {
		if k == ReasonDuplicateID {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d", k, d[k]))
		if len(parts) == 5 {
			break
		}
	}
	return strings.Join(parts, ", ")
}

func reasonsSuffix(d map[string]int64) string {
	if t := topReasons(d); t != "" {
		return "; dropped: " + t
	}
	return ""
}

func (s *Stage) loadState(ctx context.Context, st store.Store, shopID, conf string, log *slog.Logger) sourceState {
	rc, err := st.Get(ctx, SourceStateKey(shopID))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			log.Warn("source state unreadable; fetching in full", "err", err)
		}
		return sourceState{}
	}
	defer rc.Close()
	var state sourceState
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&state); err != nil {
		log.Warn("source state unreadable; fetching in full", "err", err)
		return sourceState{}
	}
	if state.Config != conf {
		log.Info("source settings changed since the last run; fetching in full")
		return sourceState{}
	}
	if _, err := st.Stat(ctx, state.CatalogKey); err != nil {
		return sourceState{}
	}
	return state
}

func (s *Stage) saveState(ctx context.Context, st store.Store, shopID string, state sourceState, log *slog.Logger) {
	b, err := json.MarshalIndent(state, "", "  ")
	if err == nil {
		err = st.Put(ctx, SourceStateKey(shopID), strings.NewReader(string(b)), &store.PutOptions{ContentType: "application/json"})
	}
	if err != nil {
		// The catalog is published; the next run just fetches in full.
		log.Warn("cannot save source state", "err", err)
	}
}

// reuse publishes the last catalog under this run's key.
func (s *Stage) reuse(ctx context.Context, job stages.Job, key string, prev sourceState, v source.Validators, log *slog.Logger) (stages.Result, error) {
	res := stages.Result{Unchanged: true, ItemsIn: prev.ItemsIn, ItemsOut: prev.ItemsOut, Dropped: prev.Dropped, Outputs: []string{key}}
	if prev.CatalogKey != key {
		rc, err := job.Store.Get(ctx, prev.CatalogKey)
		if err != nil {
			return stages.Result{}, fmt.Errorf("reuse %s: %w", prev.CatalogKey, err)
		}
		defer rc.Close()
		if err := job.Store.Put(ctx, key, rc, &store.PutOptions{ContentType: "application/vnd.apache.parquet"}); err != nil {
			return stages.Result{}, fmt.Errorf("publish %s: %w", key, err)
		}
	}
	if info, err := job.Store.Stat(ctx, key); err == nil {
		res.Bytes = info.Size
	}
	log.Info("source unchanged; catalog reused", "from", prev.CatalogKey, "key", key)
	prev.Validators, prev.CatalogKey, prev.FetchedAt = v, key, time.Now().UTC()
	s.saveState(ctx, job.Store, job.Row.ShopID, prev, log)
	return res, nil
}

// built is the outcome of build.
type built struct {
	file *os.File // the catalog, a spool file (unlinked): the caller closes it

	in, out int64
	dropped map[string]int64
}

// build streams p through the mapper into a de-duplicated catalog file.
// Every file it writes in dir ("" is os.TempDir()) is a spool file,
// unlinked from the start: a killed child leaves nothing behind.
func (s *Stage) build(ctx context.Context, p parse.Parser, m *mapping.Mapper, dir string, job stages.Job, log *slog.Logger) (built, error) {
	b := built{dropped: map[string]int64{}}
	f, err := spool.Create(dir, "feedbatch-collect-*.parquet")
	if err != nil {
		return b, err
	}
	defer func() {
		if b.file != f {
			f.Close()
		}
	}()
	w := catalog.NewWriter(f)
	setMeta(w, job)
	ids, err := newPairWriter(dir)
	if err != nil {
		return b, err
	}
	defer ids.f.Close()
	pos, err := writeRows(ctx, p, m, w, ids, &b, log)
	if err != nil {
		ids.close()
		return b, err
	}
	if err := ids.close(); err != nil {
		return b, err
	}
	drop, dups, err := findDuplicates(dir, ids.f, int64(pos))
	if err != nil {
		return b, err
	}
	ids.f.Close()
	b.out = int64(pos) - dups
	if dups == 0 {
		w.SetMetadata("items_in", strconv.FormatInt(b.in, 10))
		if err := w.Close(); err != nil {
			return b, err
		}
		b.file = f
		return b, nil
	}
	b.dropped[ReasonDuplicateID] = dups
	if err := w.Close(); err != nil {
		return b, err
	}
	out, err := copyWithout(ctx, f, drop, dir, job, b.in)
	if err != nil {
		return b, err
	}
	b.file = out
	return b, nil
}

// writeRows is build's first pass: every row of p is mapped and written to
// w (bad rows counted in b), and each product's id hash and position to
// ids. It returns the number of products written.
func writeRows(ctx context.Context, p parse.Parser, m *mapping.Mapper, w *catalog.Writer, ids *pairWriter, b *built, log *slog.Logger) (uint64, error) {
	seed := maphash.MakeSeed()
	var pos uint64
	for {
		if b.in%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return pos, err
			}
			if b.in > 0 && b.in%200_000 == 0 {
				log.Info("collecting", "rows", b.in, "products", pos)
			}
		}
		rec, err := p.Next()
		if errors.Is(err, io.EOF) {
			return pos, nil
		}
		if re, ok := parse.AsRowError(err); ok {
			b.in++
			b.dropped[re.Reason]++
			log.Debug("row dropped", "line", re.Line, "reason", re.Reason, "detail", re.Detail)
			continue
		}
		if err != nil {
			if errors.Is(err, source.ErrTransient) || errors.Is(err, stages.ErrPermanent) {
				return pos, fmt.Errorf("after %d rows: %w", b.in, err)
			}
			return pos, stages.Permanentf("after %d rows: %v", b.in, err)
		}
		b.in++
		prod, reason := m.Map(rec)
		if reason != "" {
			b.dropped[reason]++
			log.Debug("row dropped", "line", rec.Line, "reason", reason)
			continue
		}
		if err := w.Write(prod); err != nil {
			return pos, err
		}
		if err := ids.add(maphash.String(seed, prod.ID), pos); err != nil {
			return pos, err
		}
		pos++
	}
}

// copyWithout is build's second pass: a new spool file in dir holding the
// catalog f without the products at the positions in drop (the earlier
// occurrences of duplicate ids). The caller closes the file.
func copyWithout(ctx context.Context, f *os.File, drop bitmap, dir string, job stages.Job, in int64) (_ *os.File, err error) {
	out, err := spool.Create(dir, "feedbatch-collect-*.parquet")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			out.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	r, err := catalog.NewReader(f, fi.Size())
	if err != nil {
		return nil, err
	}
	defer r.Close()
	w := catalog.NewWriter(out)
	setMeta(w, job)
	w.SetMetadata("items_in", strconv.FormatInt(in, 10))
	for i := uint64(0); ; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		prod, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if drop.has(i) {
			continue
		}
		if err := w.Write(prod); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out, nil
}

func setMeta(w *catalog.Writer, job stages.Job) {
	w.SetMetadata("shop_id", job.Row.ShopID)
	w.SetMetadata("run_id", job.Row.CatalogRun(job.RunID))
	w.SetMetadata("source", source.Redact(job.Row.Source.URL))
	w.SetMetadata("collected_by", version)
}

// countingReader counts bytes and remembers the first read error, so a
// broken connection can be told apart from a broken file.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
	err error
}

// errSourceTooLarge ends a read past the size cap (a permanent error).
var errSourceTooLarge = errors.New("source larger than its size cap")

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.max {
		return 0, fmt.Errorf("%w (%d bytes; raise the source option %s)", errSourceTooLarge, c.max, OptMaxSourceBytes)
	}
	if int64(len(p)) > c.max-c.n {
		p = p[:c.max-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && c.err == nil {
		c.err = err
	}
	return n, err
}
