package manifest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/feedbatch/feedbatch/internal/pqcheck"
	"github.com/feedbatch/feedbatch/store"
)

// Read tuning. A lookup makes three rounds of ranged reads: the file's tail
// (footer), the offset index of one row group, and one page per column
// (fetched concurrently). tailBytes is read at Open: a small manifest is
// read whole in that one request.
const (
	tailBytes = 8 << 10
	// minFetch rounds up small reads to save round trips.
	minFetch = 512
	// readBuffer is parquet-go's buffer per column; pages larger than it are
	// read straight through, so it only bounds read-ahead past a page.
	readBuffer = 64
	// fetchParallel bounds concurrent ranged reads of one lookup.
	fetchParallel = 8
	// maxPageBytes bounds the uncompressed size of one page. The writer
	// cuts pages at pageBytes; a page holds more only for one large value.
	maxPageBytes = 64 << 20
)

// File is an opened manifest. It reads the store lazily: Open reads the
// footer, Row reads one row's pages. A File is safe for concurrent use; its
// methods serialise.
type File struct {
	mu     sync.Mutex
	key    string
	src    *rangeSource
	pf     *parquet.File
	meta   Meta
	starts []int64 // first row of each row group
	loaded map[int]bool
	chunks []pqcheck.Chunk // by row group, then column
}

// Open opens the manifest at key for reading. It reads the file's footer
// (and, for a small manifest, the whole file) but no rows.
func Open(ctx context.Context, st store.Store, key string) (*File, error) {
	info, err := st.Stat(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("open manifest: %w", err) // the error names key and root
	}
	if err != nil {
		return nil, fmt.Errorf("open manifest %s: %w", key, err)
	}
	src := &rangeSource{st: st, key: key, size: info.Size}
	f, err := openSource(ctx, src, key)
	if err != nil {
		return nil, fmt.Errorf("open manifest %s: %w", key, err)
	}
	return f, nil
}

func openSource(ctx context.Context, src *rangeSource, key string) (f *File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%w: corrupt parquet file: %v", ErrInvalid, r)
		}
	}()
	src.ctx = ctx
	defer func() { src.ctx = nil }()
	if src.size < 12 {
		return nil, fmt.Errorf("%w: %d bytes is too short for a parquet file", ErrInvalid, src.size)
	}
	if err := src.prefetch(src.size-min(src.size, tailBytes), src.size); err != nil {
		return nil, err
	}
	if err := checkFooter(src); err != nil {
		return nil, err
	}
	pf, err := parquet.OpenFile(src, src.size,
		parquet.SkipPageIndex(true),
		parquet.SkipBloomFilters(true),
		parquet.SkipMagicBytes(true),
		parquet.ReadBufferSize(readBuffer),
	)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !parquet.EqualNodes(pf.Schema(), rowSchema) {
		return nil, fmt.Errorf("%w: not a manifest (schema differs)", ErrInvalid)
	}
	md := pf.Metadata()
	// Refuse what the project does not write before any page is decoded.
	chunks, err := pqcheck.Chunks(md, src.size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	keys := make([]string, 0, len(md.KeyValueMetadata))
	for _, kv := range md.KeyValueMetadata {
		keys = append(keys, kv.Key)
	}
	meta, err := parseMeta(pf.Lookup, keys)
	if err != nil {
		return nil, err
	}
	if meta.Count != pf.NumRows() {
		return nil, fmt.Errorf("%w: metadata count %d, file has %d rows", ErrInvalid, meta.Count, pf.NumRows())
	}
	f = &File{key: key, src: src, pf: pf, meta: meta, loaded: map[int]bool{}, chunks: chunks}
	var n int64
	for _, rg := range md.RowGroups {
		if rg.NumRows < 0 || len(rg.Columns) != len(pf.Schema().Columns()) {
			return nil, fmt.Errorf("%w: bad row group", ErrInvalid)
		}
		f.starts = append(f.starts, n)
		n += rg.NumRows
	}
	if n != pf.NumRows() {
		return nil, fmt.Errorf("%w: row groups hold %d rows, footer says %d", ErrInvalid, n, pf.NumRows())
	}
	return f, nil
}

var rowSchema = parquet.SchemaOf(Row{})

// Meta returns the run-level facts of the manifest.
func (f *File) Meta() Meta {
	m := f.meta
	if m.Extra != nil {
		m.Extra = cloneMap(m.Extra)
	}
	return m
}

// NumRows is the number of shops in the manifest.
func (f *File) NumRows() int64 { return f.pf.NumRows() }

// BytesRead is the number of bytes fetched from the store so far.
func (f *File) BytesRead() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.src.bytes
}

// Reads is the number of ranged reads made so far.
func (f *File) Reads() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.src.calls
}

// Row reads row index. An index outside 0..NumRows-1 gives
// ErrIndexOutOfRange.
func (f *File) Row(ctx context.Context, index int64) (row Row, err error) {
	if index < 0 || index >= f.NumRows() {
		return Row{}, fmt.Errorf("manifest %s: index %d of %d rows: %w", f.key, index, f.NumRows(), ErrIndexOutOfRange)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.src.ctx = ctx
	defer func() { f.src.ctx = nil }()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("manifest %s: row %d: %w: corrupt parquet file: %v", f.key, index, ErrInvalid, r)
		}
	}()
	g := sort.Search(len(f.starts), func(i int) bool { return f.starts[i] > index }) - 1
	local := index - f.starts[g]
	rg := f.pf.RowGroups()[g]
	if err := f.prefetchRow(ctx, g, rg, local); err != nil {
		return Row{}, fmt.Errorf("manifest %s: row %d: %w", f.key, index, err)
	}
	r := parquet.NewGenericRowGroupReader[Row](rg)
	defer r.Close()
	if err := r.SeekToRow(local); err != nil {
		return Row{}, fmt.Errorf("manifest %s: seek row %d: %w", f.key, index, err)
	}
	buf := make([]Row, 1)
	n, err := r.Read(buf)
	if n != 1 {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Row{}, fmt.Errorf("manifest %s: read row %d: %w", f.key, index, err)
	}
	row = buf[0]
	if row.Index != index {
		return Row{}, fmt.Errorf("manifest %s: %w: row %d holds index %d", f.key, ErrInvalid, index, row.Index)
	}
	normalize(&row)
	return row, nil
}

// prefetchRow loads the offset index of row group g (once) and then fetches
// the page of every column that holds row local, concurrently.
func (f *File) prefetchRow(ctx context.Context, g int, rg parquet.RowGroup, local int64) error {
	md := f.pf.Metadata().RowGroups[g]
	chunks := rg.ColumnChunks()
	if !f.loaded[g] {
		lo, hi := int64(-1), int64(-1)
		for _, c := range md.Columns {
			if c.OffsetIndexOffset <= 0 {
				continue
			}
			if lo < 0 || c.OffsetIndexOffset < lo {
				lo = c.OffsetIndexOffset
			}
			hi = max(hi, c.OffsetIndexOffset+int64(c.OffsetIndexLength))
		}
		if lo >= 0 {
			if lo > f.src.size || hi > f.src.size {
				return fmt.Errorf("%w: offset index outside the file", ErrInvalid)
			}
			if err := f.src.prefetch(lo, hi); err != nil {
				return err
			}
		}
		for _, c := range md.Columns {
			if c.OffsetIndexOffset <= 0 {
				continue
			}
			b, err := f.src.bytesAt(c.OffsetIndexOffset, int64(c.OffsetIndexLength))
			if err != nil {
				return err
			}
			if _, _, err := pqcheck.Thrift(b); err != nil {
				return fmt.Errorf("%w: offset index: %v", ErrInvalid, err)
			}
		}
		// Every page the reader may reach, checked when a read reaches its
		// start (the reader reads ahead into the next pages of a column).
		for i, cc := range chunks {
			fc, ok := cc.(*parquet.FileColumnChunk)
			if !ok {
				continue
			}
			oi, err := fc.OffsetIndex()
			if err != nil && !errors.Is(err, parquet.ErrMissingOffsetIndex) {
				return err
			}
			if err != nil {
				c := f.chunks[g*len(chunks)+i]
				f.src.addSpan(c.Offset, c.Size) // no page index: the whole chunk
				continue
			}
			for p := range oi.NumPages() {
				f.src.addSpan(oi.Offset(p), oi.CompressedPageSize(p))
			}
			if d, dp := md.Columns[i].MetaData.DictionaryPageOffset, md.Columns[i].MetaData.DataPageOffset; d > 0 && d < dp {
				f.src.addSpan(d, dp-d)
			}
		}
		f.loaded[g] = true
	}
	var ranges, pages [][2]int64
	for i, cc := range chunks {
		fc, ok := cc.(*parquet.FileColumnChunk)
		if !ok {
			continue
		}
		oi, err := fc.OffsetIndex()
		if err != nil {
			continue // no page index: the reader scans the chunk
		}
		p := pageFor(oi, local)
		if p < 0 {
			continue
		}
		off, size := oi.Offset(p), oi.CompressedPageSize(p)
		if off < 0 || size < 0 || off+size > f.src.size {
			return fmt.Errorf("%w: page outside the file", ErrInvalid)
		}
		pages = append(pages, [2]int64{off, size})
		// The reader's buffer may read a little past the page.
		ranges = append(ranges, [2]int64{off, off + size + readBuffer})
		if d, dp := md.Columns[i].MetaData.DictionaryPageOffset, md.Columns[i].MetaData.DataPageOffset; d > 0 && d < dp {
			pages = append(pages, [2]int64{d, dp - d})
			ranges = append(ranges, [2]int64{d, dp})
		}
	}
	if err := f.src.prefetchMany(ctx, ranges); err != nil {
		return err
	}
	// Check the pages the reader is about to decode.
	for _, p := range pages {
		if err := f.src.checkSpans(p[0], p[0]+p[1]); err != nil {
			return err
		}
	}
	return nil
}

// checkChunks checks every page of every column chunk; the whole file must
// be held.
func (f *File) checkChunks() error {
	chunks, err := pqcheck.Chunks(f.pf.Metadata(), f.src.size)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, c := range chunks {
		b, err := f.src.bytesAt(c.Offset, c.Size)
		if err != nil {
			return err
		}
		if err := pqcheck.Pages(b, maxPageBytes); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	return nil
}

// checkFooter checks the footer's length and structure before the Parquet
// reader decodes it; the file's tail must be held.
func checkFooter(s *rangeSource) error {
	tail, err := s.bytesAt(s.size-8, 8)
	if err != nil {
		return err
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("%w: not a parquet file (no PAR1 trailer)", ErrInvalid)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > s.size-12 {
		return fmt.Errorf("%w: footer length %d in a %d-byte file", ErrInvalid, n, s.size)
	}
	footer, err := s.bytesAt(s.size-8-n, n)
	if err != nil {
		return err
	}
	if err := pqcheck.Footer(footer); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

func pageFor(oi parquet.OffsetIndex, row int64) int {
	n := oi.NumPages()
	p := sort.Search(n, func(i int) bool { return oi.FirstRowIndex(i) > row }) - 1
	return p
}

// All reads every row, in index order.
func (f *File) All(ctx context.Context) (rows []Row, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.src.ctx = ctx
	defer func() { f.src.ctx = nil }()
	defer func() {
		if r := recover(); r != nil {
			rows, err = nil, fmt.Errorf("manifest %s: %w: corrupt parquet file: %v", f.key, ErrInvalid, r)
		}
	}()
	if err := f.src.prefetch(0, f.src.size); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", f.key, err)
	}
	if err := f.checkChunks(); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", f.key, err)
	}
	r := parquet.NewGenericReader[Row](f.pf)
	defer r.Close()
	rows = make([]Row, f.pf.NumRows())
	n := 0
	for n < len(rows) {
		k, err := r.Read(rows[n:])
		n += k
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("manifest %s: read rows: %w", f.key, err)
		}
		if k == 0 {
			break
		}
	}
	if n != len(rows) {
		return nil, fmt.Errorf("manifest %s: %w: read %d of %d rows", f.key, ErrInvalid, n, len(rows))
	}
	for i := range rows {
		if rows[i].Index != int64(i) {
			return nil, fmt.Errorf("manifest %s: %w: row %d holds index %d", f.key, ErrInvalid, i, rows[i].Index)
		}
		normalize(&rows[i])
	}
	return rows, nil
}

// Lookup opens the manifest at key and reads row index: what a stage child
// does.
func Lookup(ctx context.Context, st store.Store, key string, index int64) (Row, Meta, error) {
	f, err := Open(ctx, st, key)
	if err != nil {
		return Row{}, Meta{}, err
	}
	row, err := f.Row(ctx, index)
	return row, f.Meta(), err
}

// ReadAll reads the whole manifest at key.
func ReadAll(ctx context.Context, st store.Store, key string) ([]Row, Meta, error) {
	f, err := Open(ctx, st, key)
	if err != nil {
		return nil, Meta{}, err
	}
	rows, err := f.All(ctx)
	return rows, f.Meta(), err
}

func cloneMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// rangeSource is an io.ReaderAt over one stored object that fetches exact
// byte ranges and keeps what it fetched. ctx is set by the File method in
// progress and cleared when it returns.
type rangeSource struct {
	ctx   context.Context
	st    store.Store
	key   string
	size  int64
	segs  []segment // sorted, non-overlapping, non-adjacent
	mu    sync.Mutex
	bytes int64
	calls int64
	// spans are the pages (or whole chunks) of the row groups loaded so
	// far, sorted by offset. ReadAt checks a span when a read reaches its
	// start, before the reader can decode it.
	spanMu sync.Mutex
	spans  []span
}

type span struct {
	off, size int64
	checked   bool
}

// addSpan registers a page (or a run of pages) to check.
func (s *rangeSource) addSpan(off, size int64) {
	s.spanMu.Lock()
	defer s.spanMu.Unlock()
	i := sort.Search(len(s.spans), func(i int) bool { return s.spans[i].off >= off })
	if i < len(s.spans) && s.spans[i].off == off {
		return
	}
	s.spans = slices.Insert(s.spans, i, span{off: off, size: size})
}

// checkSpans checks every registered span that starts in [off, end).
func (s *rangeSource) checkSpans(off, end int64) error {
	s.spanMu.Lock()
	defer s.spanMu.Unlock()
	for i := sort.Search(len(s.spans), func(i int) bool { return s.spans[i].off >= off }); i < len(s.spans) && s.spans[i].off < end; i++ {
		sp := &s.spans[i]
		if sp.checked {
			continue
		}
		b, err := s.bytesAt(sp.off, sp.size)
		if err != nil {
			return err
		}
		if err := pqcheck.Pages(b, maxPageBytes); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		sp.checked = true
	}
	return nil
}

type segment struct {
	off  int64
	data []byte
}

func (s *rangeSource) end(i int) int64 { return s.segs[i].off + int64(len(s.segs[i].data)) }

// ReadAt implements io.ReaderAt, fetching what is not held yet.
func (s *rangeSource) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s at %d: negative offset", s.key, off)
	}
	if off >= s.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), s.size)
	if err := s.prefetch(off, end); err != nil {
		return 0, err
	}
	if err := s.checkSpans(off, end); err != nil {
		return 0, err
	}
	s.mu.Lock()
	n := s.copyOut(p[:end-off], off)
	s.mu.Unlock()
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// bytesAt returns n bytes at off, fetching what is missing.
func (s *rangeSource) bytesAt(off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off+n > s.size {
		return nil, fmt.Errorf("%w: range %d+%d outside the %d-byte file", ErrInvalid, off, n, s.size)
	}
	if err := s.prefetch(off, off+n); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.copyOut(b, off)
	return b, nil
}

// copyOut copies held bytes at off into p; the range must be held.
func (s *rangeSource) copyOut(p []byte, off int64) int {
	i := sort.Search(len(s.segs), func(i int) bool { return s.end(i) > off })
	if i == len(s.segs) || s.segs[i].off > off {
		return 0
	}
	return copy(p, s.segs[i].data[off-s.segs[i].off:])
}

// missing returns the sub-ranges of [off, end) not held yet.
func (s *rangeSource) missing(off, end int64) [][2]int64 {
	var out [][2]int64
	i := sort.Search(len(s.segs), func(i int) bool { return s.end(i) > off })
	for off < end {
		if i < len(s.segs) && s.segs[i].off <= off {
			off = s.end(i)
			i++
			continue
		}
		stop := end
		if i < len(s.segs) && s.segs[i].off < end {
			stop = s.segs[i].off
		}
		// Round small reads up, within the object and before the next segment.
		if stop-off < minFetch {
			limit := s.size
			if i < len(s.segs) {
				limit = s.segs[i].off
			}
			stop = min(off+minFetch, limit)
		}
		out = append(out, [2]int64{off, stop})
		off = stop
	}
	return out
}

// prefetch makes sure [off, end) is held.
func (s *rangeSource) prefetch(off, end int64) error {
	return s.prefetchMany(s.ctx, [][2]int64{{off, end}})
}

// prefetchMany fetches every missing part of ranges, concurrently.
func (s *rangeSource) prefetchMany(ctx context.Context, ranges [][2]int64) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s.mu.Lock()
	var todo [][2]int64
	for _, r := range ranges {
		lo, hi := max(r[0], 0), min(r[1], s.size)
		if lo >= hi {
			continue
		}
		todo = append(todo, s.missing(lo, hi)...)
	}
	s.mu.Unlock()
	todo = mergeRanges(todo)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fetchParallel)
	for _, r := range todo {
		g.Go(func() error { return s.fetch(gctx, r[0], r[1]) })
	}
	return g.Wait()
}

func (s *rangeSource) fetch(ctx context.Context, off, end int64) error {
	rc, err := s.st.GetRange(ctx, s.key, off, end-off)
	if err != nil {
		return fmt.Errorf("read %s at %d: %w", s.key, off, err)
	}
	defer rc.Close()
	buf := make([]byte, end-off)
	n, err := io.ReadFull(rc, buf)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += int64(n)
	s.calls++
	if err != nil {
		return fmt.Errorf("read %s at %d: %w", s.key, off, err)
	}
	s.insert(segment{off: off, data: buf})
	return nil
}

// insert adds seg, merging it with any segment it overlaps or touches.
func (s *rangeSource) insert(seg segment) {
	lo, hi := seg.off, seg.off+int64(len(seg.data))
	i := sort.Search(len(s.segs), func(i int) bool { return s.end(i) >= lo })
	j := i
	for j < len(s.segs) && s.segs[j].off <= hi {
		j++
	}
	if i == j {
		s.segs = append(s.segs, segment{})
		copy(s.segs[i+1:], s.segs[i:])
		s.segs[i] = seg
		return
	}
	nlo := min(lo, s.segs[i].off)
	nhi := max(hi, s.end(j-1))
	buf := make([]byte, nhi-nlo)
	for _, old := range s.segs[i:j] {
		copy(buf[old.off-nlo:], old.data)
	}
	copy(buf[lo-nlo:], seg.data)
	s.segs[i] = segment{off: nlo, data: buf}
	s.segs = append(s.segs[:i+1], s.segs[j:]...)
}

// mergeRanges sorts ranges and merges those that overlap or touch.
func mergeRanges(rs [][2]int64) [][2]int64 {
	if len(rs) < 2 {
		return rs
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r[0] <= last[1] {
			last[1] = max(last[1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}
