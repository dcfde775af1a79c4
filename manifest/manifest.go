package manifest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/feedbatch/feedbatch/store"
)

// Errors are checked with errors.Is.
var (
	// ErrIndexOutOfRange is returned by Row and Lookup for an index outside
	// 0..NumRows-1, and by Subset for an index the rows do not have.
	ErrIndexOutOfRange = errors.New("manifest: index out of range")
	// ErrInvalid is returned by Write and Subset for rows that break the
	// manifest's rules (index order, unique shop ids), and by Open for a file
	// that is not a manifest this package can read.
	ErrInvalid = errors.New("manifest: invalid")
)

// Key/value metadata keys of the Parquet file. Extra entries of Meta are
// written with the prefix MetaExtraPrefix.
const (
	MetaSchemaVersion = "schema_version"
	MetaRunID         = "run_id"
	MetaRerun         = "rerun"
	MetaOriginRun     = "origin_run"
	MetaCreatedAt     = "created_at"
	MetaCount         = "count"
	MetaExtraPrefix   = "x."
)

// Meta holds the run-level facts of a manifest, stored in the Parquet file's
// key/value metadata.
type Meta struct {
	// RunID is the day's run id.
	RunID string `json:"run_id"`
	// Rerun is "" for the day's manifest, or the re-run number ("1", "2", ...).
	Rerun string `json:"rerun,omitempty"`
	// OriginRun is the run the rows came from for re-runs ("" otherwise).
	OriginRun string `json:"origin_run,omitempty"`
	// CreatedAt is when the manifest was written (UTC).
	CreatedAt time.Time `json:"created_at"`
	// Count is the number of rows; Write sets it.
	Count int64 `json:"count"`
	// SchemaVersion is the manifest schema version; Write sets SchemaVersion
	// when empty.
	SchemaVersion string `json:"schema_version"`
	// Extra are further facts (registry source, planner version, ...).
	Extra map[string]string `json:"extra,omitempty"`
}

// Key is the store key of a run's manifest.
func Key(runID string) string { return "runs/" + runID + "/manifest.parquet" }

// RerunKey is the store key of the manifest of re-run k of a run.
func RerunKey(runID, rerun string) string {
	return "runs/" + runID + "/reruns/" + rerun + "/manifest.parquet"
}

// Layout of the file. A lookup reads the footer (its size grows with the
// number of row groups), the offset index of one row group (one entry per
// page of each column) and one page per column, so these two set the bytes a
// child reads: bigger pages mean a smaller offset index but bigger page
// reads. Measured with TestLookupBytesFlat (4 KiB pages: 84 KB per lookup
// at 100,000 shops; 32 KiB pages and 25,000-row groups: 26 KB).
const (
	rowGroupRows = 25_000
	pageBytes    = 32 << 10
)

// Write writes rows as a manifest Parquet file to w. Row i must have Index i
// and shop ids must be unique and non-empty; meta.Count is set to len(rows).
func Write(w io.Writer, meta Meta, rows []Row) error {
	if err := checkRows(rows); err != nil {
		return err
	}
	opts := []parquet.WriterOption{
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
		parquet.PageBufferSize(pageBytes),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.DeltaByteArray),
		parquet.DefaultEncodingFor(parquet.Int64, &parquet.DeltaBinaryPacked),
		parquet.DefaultEncodingFor(parquet.Int32, &parquet.DeltaBinaryPacked),
		// Bounds in the column index are useless for lookups by position;
		// keep them short.
		parquet.ColumnIndexSizeLimit(func([]string) int { return 16 }),
		parquet.CreatedBy("feedbatch", "manifest-"+SchemaVersion, ""),
	}
	for k, v := range metaKV(meta, int64(len(rows))) {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	pw := parquet.NewGenericWriter[Row](w, opts...)
	for start := 0; start < len(rows); start += 1024 {
		end := min(start+1024, len(rows))
		if _, err := pw.Write(rows[start:end]); err != nil {
			return fmt.Errorf("write manifest rows: %w", err)
		}
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// Save writes the manifest to key in st, atomically (opts may ask IfAbsent).
func Save(ctx context.Context, st store.Store, key string, meta Meta, rows []Row, opts *store.PutOptions) error {
	var buf bytes.Buffer
	if err := Write(&buf, meta, rows); err != nil {
		return err
	}
	o := store.PutOptions{ContentType: "application/vnd.apache.parquet"}
	if opts != nil {
		o = *opts
		if o.ContentType == "" {
			o.ContentType = "application/vnd.apache.parquet"
		}
	}
	if err := st.Put(ctx, key, &buf, &o); err != nil {
		return fmt.Errorf("save manifest %s: %w", key, err)
	}
	return nil
}

func checkRows(rows []Row) error {
	seen := make(map[string]int64, len(rows))
	for i, r := range rows {
		if r.Index != int64(i) {
			return fmt.Errorf("%w: row %d has index %d", ErrInvalid, i, r.Index)
		}
		if r.ShopID == "" {
			return fmt.Errorf("%w: row %d has no shop id", ErrInvalid, i)
		}
		if j, dup := seen[r.ShopID]; dup {
			return fmt.Errorf("%w: shop %q at index %d and %d", ErrInvalid, r.ShopID, j, i)
		}
		seen[r.ShopID] = int64(i)
	}
	return nil
}

func metaKV(m Meta, count int64) map[string]string {
	kv := map[string]string{
		MetaSchemaVersion: cmp.Or(m.SchemaVersion, SchemaVersion),
		MetaRunID:         m.RunID,
		MetaCount:         strconv.FormatInt(count, 10),
	}
	if m.Rerun != "" {
		kv[MetaRerun] = m.Rerun
	}
	if m.OriginRun != "" {
		kv[MetaOriginRun] = m.OriginRun
	}
	if !m.CreatedAt.IsZero() {
		kv[MetaCreatedAt] = m.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range m.Extra {
		kv[MetaExtraPrefix+k] = v
	}
	return kv
}

func parseMeta(lookup func(string) (string, bool), keys []string) (Meta, error) {
	var m Meta
	get := func(k string) string { v, _ := lookup(k); return v }
	m.SchemaVersion = get(MetaSchemaVersion)
	if m.SchemaVersion != SchemaVersion {
		return m, fmt.Errorf("%w: schema version %q (this build reads %q)", ErrInvalid, m.SchemaVersion, SchemaVersion)
	}
	m.RunID = get(MetaRunID)
	m.Rerun = get(MetaRerun)
	m.OriginRun = get(MetaOriginRun)
	if s := get(MetaCreatedAt); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return m, fmt.Errorf("%w: created_at %q: %v", ErrInvalid, s, err)
		}
		m.CreatedAt = t.UTC()
	}
	if s := get(MetaCount); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return m, fmt.Errorf("%w: count %q", ErrInvalid, s)
		}
		m.Count = n
	}
	for _, k := range keys {
		if rest, ok := strings.CutPrefix(k, MetaExtraPrefix); ok {
			if m.Extra == nil {
				m.Extra = map[string]string{}
			}
			m.Extra[rest] = get(k)
		}
	}
	return m, nil
}

// normalize makes empty maps and slices nil, so rows compare equal however
// they were read.
func normalize(r *Row) {
	if len(r.Platforms) == 0 {
		r.Platforms = nil
	}
	if len(r.Options) == 0 {
		r.Options = nil
	}
	if len(r.Source.Options) == 0 {
		r.Source.Options = nil
	}
	if len(r.Source.Mapping) == 0 {
		r.Source.Mapping = nil
	}
}

// clone deep-copies a row's maps and slices.
func clone(r Row) Row {
	r.Platforms = slices.Clone(r.Platforms)
	r.Options = maps.Clone(r.Options)
	r.Source.Options = maps.Clone(r.Source.Options)
	r.Source.Mapping = maps.Clone(r.Source.Mapping)
	return r
}
