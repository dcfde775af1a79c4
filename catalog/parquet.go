package catalog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/feedbatch/feedbatch/internal/ctxio"
	"github.com/feedbatch/feedbatch/internal/pqcheck"
	"github.com/feedbatch/feedbatch/internal/spool"
	"github.com/feedbatch/feedbatch/store"
	"github.com/parquet-go/parquet-go"
)

// RowGroupRows is the number of products per Parquet row group. The writer
// buffers one row group's compressed pages (about 2 MB at this size) and
// keeps a few hundred bytes of footer metadata per row group and column
// until Close; readers hold one page per column. Smaller groups would make
// the footer, the only part that grows with the catalog, grow faster.
const RowGroupRows = 32768

// rowGroupRows is RowGroupRows; tests lower it.
var rowGroupRows int64 = RowGroupRows

// Metadata keys written in every catalog's key/value metadata. Writers add
// their own (shop id, run id, source) with Writer.SetMetadata.
const (
	MetaSchemaVersion = "schema_version"
	MetaRows          = "rows"
)

// batchSize is how many products Writer and Reader move to and from
// parquet-go per call.
const batchSize = 256

// Writer streams products into a zstd Parquet catalog. It holds at most one
// row group in memory, whatever the number of products written. It is not
// safe for concurrent use.
type Writer struct {
	w     *parquet.GenericWriter[Product]
	buf   []Product
	rows  int64
	err   error
	close bool
}

// NewWriter returns a Writer that writes a catalog to w. The caller must
// call Close to write the footer; w itself is not closed.
func NewWriter(w io.Writer) *Writer {
	pw := parquet.NewGenericWriter[Product](w,
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(rowGroupRows),
		parquet.PageBufferSize(64<<10),
		parquet.KeyValueMetadata(MetaSchemaVersion, SchemaVersion),
		// Free-text and URL columns get no page bounds: they help no
		// reader, and the writer keeps every page's bounds until Close.
		parquet.SkipPageBounds("title"),
		parquet.SkipPageBounds("description"),
		parquet.SkipPageBounds("link"),
		parquet.SkipPageBounds("mobile_link"),
		parquet.SkipPageBounds("image_link"),
		parquet.SkipPageBounds("additional_image_links", "list", "element"),
	)
	return &Writer{w: pw, buf: make([]Product, 0, batchSize)}
}

// SetMetadata sets a key/value pair in the file's metadata (written at Close).
func (w *Writer) SetMetadata(key, value string) { w.w.SetKeyValueMetadata(key, value) }

// Write appends one product. Errors are sticky: after one, every later call
// returns it.
func (w *Writer) Write(p Product) error {
	if w.err != nil {
		return w.err
	}
	if w.close {
		return errors.New("catalog: write after close")
	}
	if len(p.AdditionalImageLinks) > MaxAdditionalImages {
		p.AdditionalImageLinks = p.AdditionalImageLinks[:MaxAdditionalImages]
	}
	if !p.UpdatedAt.IsZero() {
		p.UpdatedAt = p.UpdatedAt.UTC()
	}
	w.buf = append(w.buf, p)
	w.rows++
	if len(w.buf) == cap(w.buf) {
		return w.flush()
	}
	return nil
}

func (w *Writer) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.w.Write(w.buf); err != nil {
		w.err = fmt.Errorf("catalog: write: %w", err)
		return w.err
	}
	clear(w.buf)
	w.buf = w.buf[:0]
	return nil
}

// Close flushes the last row group and writes the footer. It does not close
// the underlying io.Writer.
func (w *Writer) Close() error {
	if w.close {
		return w.err
	}
	if err := w.flush(); err != nil {
		return err
	}
	w.close = true
	w.w.SetKeyValueMetadata(MetaRows, fmt.Sprint(w.rows))
	if err := w.w.Close(); err != nil {
		w.err = fmt.Errorf("catalog: close: %w", err)
		return w.err
	}
	return nil
}

// MaxAdditionalImages is how many additional image links a product keeps.
const MaxAdditionalImages = 10

// Reader streams products out of a catalog, one row group in memory at a
// time. It is not safe for concurrent use.
type Reader struct {
	file *parquet.File
	// A file in this package's schema is read column by column by scan;
	// any other (older or foreign) schema goes through parquet-go's
	// reflection-based GenericReader, which converts between schemas.
	scan  *columnScan
	r     *parquet.GenericReader[Product]
	buf   []Product
	i, n  int
	temp  *os.File // spooled copy (unlinked), freed by Close
	done  bool
	rerr  error
	close bool
}

// MaxPageBytes bounds the uncompressed size of one page of a catalog. The
// writer cuts pages at 64 KiB; a page holds more only for large values,
// and collect caps a field at 1 MiB (parse.DefaultMaxFieldBytes), a list at
// MaxAdditionalImages of them.
const MaxPageBytes = 16 << 20

// ErrInvalid is wrapped by the error for a file that is not a catalog this
// project wrote (bad structure, a codec or page size it does not write).
// Errors will be checked using errors.Is.
var ErrInvalid = errors.New("catalog: invalid file")

// NewReader reads a catalog from r (size bytes). The caller keeps r open
// until Close. The file's footer and every page header are checked before
// anything is decoded: a file the project did not write is refused with
// ErrInvalid, in memory bounded by one page.
func NewReader(r io.ReaderAt, size int64) (cr *Reader, err error) {
	// parquet-go panics on some malformed schemas (a negative child count).
	defer func() {
		if v := recover(); v != nil {
			cr, err = nil, fmt.Errorf("catalog: open: %w: corrupt parquet file: %v", ErrInvalid, v)
		}
	}()
	if err := checkFooter(r, size); err != nil {
		return nil, fmt.Errorf("catalog: open: %w", err)
	}
	// A sequential scan needs no page index: skip loading it.
	f, err := parquet.OpenFile(r, size, parquet.ReadBufferSize(64<<10), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("catalog: open: %w", err)
	}
	chunks, err := pqcheck.Chunks(f.Metadata(), size)
	if err == nil {
		err = pqcheck.File(r, size, chunks, MaxPageBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: open: %w: %w", ErrInvalid, err)
	}
	if v, ok := f.Lookup(MetaSchemaVersion); ok && v != SchemaVersion {
		return nil, fmt.Errorf("catalog: schema version %q, this build reads %q", v, SchemaVersion)
	}
	cr = &Reader{file: f, buf: make([]Product, batchSize)}
	if dec := newDecoder(f.Schema()); dec != nil {
		cr.scan = newColumnScan(f, dec)
	} else {
		cr.r = parquet.NewGenericReader[Product](f)
	}
	return cr, nil
}

// checkFooter checks the footer's length and Thrift structure before
// parquet-go decodes it.
func checkFooter(r io.ReaderAt, size int64) error {
	var tail [8]byte
	if size < 12 {
		return fmt.Errorf("%w: %d bytes is too short for a parquet file", ErrInvalid, size)
	}
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("read footer: %w", err)
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("%w: not a parquet file (no PAR1 trailer)", ErrInvalid)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 {
		return fmt.Errorf("%w: footer length %d in a %d-byte file", ErrInvalid, n, size)
	}
	footer := make([]byte, n)
	if _, err := r.ReadAt(footer, size-8-n); err != nil {
		return fmt.Errorf("read footer: %w", err)
	}
	if err := pqcheck.Footer(footer); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// Open opens the catalog at key in st. The object is copied to a temporary
// file with one sequential read (one GET on S3, rather than one ranged read
// per column page), so memory stays flat and the disk holds one catalog. The
// copy is unlinked at creation, so even a killed process leaves no file;
// Close frees it. A missing key gives an error matching store.ErrNotFound.
func Open(ctx context.Context, st store.Store, key string) (*Reader, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", key, err)
	}
	defer rc.Close()
	tmp, err := spool.Create("", "feedbatch-catalog-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", key, err)
	}
	cleanup := func() { tmp.Close() }
	n, err := io.Copy(tmp, ctxio.Reader(ctx, rc))
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("catalog %s: read: %w", key, err)
	}
	r, err := NewReader(tmp, n)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("catalog %s: %w", key, err)
	}
	r.temp = tmp
	return r, nil
}

// NumRows is the number of products in the catalog.
func (r *Reader) NumRows() int64 { return r.file.NumRows() }

// Metadata returns the value of a key/value metadata entry.
func (r *Reader) Metadata(key string) (string, bool) { return r.file.Lookup(key) }

// Next returns the next product, or io.EOF after the last one.
func (r *Reader) Next() (Product, error) {
	for r.i >= r.n {
		if r.done {
			if r.rerr != nil {
				return Product{}, r.rerr
			}
			return Product{}, io.EOF
		}
		clear(r.buf[:r.n])
		n, err := r.read()
		r.i, r.n = 0, n
		if err != nil {
			r.done = true
			if !errors.Is(err, io.EOF) {
				r.rerr = fmt.Errorf("catalog: read: %w", err)
			}
		}
	}
	p := r.buf[r.i]
	r.i++
	if len(p.AdditionalImageLinks) == 0 {
		p.AdditionalImageLinks = nil
	}
	return p, nil
}

// read fills r.buf from the file.
func (r *Reader) read() (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("%w: corrupt parquet file: %v", ErrInvalid, v)
		}
	}()
	if r.scan == nil {
		return r.r.Read(r.buf)
	}
	return r.scan.read(r.buf)
}

// Close releases the reader and frees a spooled copy.
func (r *Reader) Close() error {
	if r.close {
		return nil
	}
	r.close = true
	var err error
	if r.scan != nil {
		err = r.scan.close()
	} else {
		err = r.r.Close()
	}
	if r.temp != nil {
		if cerr := r.temp.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// Read calls fn for each product of the catalog at key, in file order. An
// error from fn stops the scan and is returned as is. Memory stays flat.
func Read(ctx context.Context, st store.Store, key string, fn func(Product) error) error {
	r, err := Open(ctx, st, key)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("catalog %s: %w", key, err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
}
