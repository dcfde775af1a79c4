// Package pqcheck checks a Parquet file the project wrote (a manifest, a
// catalog) before parquet-go decodes any of it.
//
// parquet-go trusts what a file declares: it allocates the lengths its
// Thrift structures declare, and its decompressors are not bounded by a
// page's declared uncompressed size (v0.32.0's LZ4_RAW decoder doubles its
// buffer on any decode error, without limit; its zstd decoder decodes every
// concatenated frame). One flipped byte in a stored file could thus take
// gigabytes. The project writes only zstd pages, one frame each, declaring
// its content size unless under 256 bytes; so the checks here refuse any
// other codec, and any page whose header or zstd frame declares more than a
// bounded size, or sizes that disagree. klauspost/compress stops a frame
// one block (128 KiB) past its declared content size, and a frame without
// one is accepted only if its blocks cannot hold more than 128 KiB, so every
// decompression is bounded by the page's checked header.
package pqcheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go/format"
)

// ErrRefused is wrapped by every refusal. Errors will be checked using
// errors.Is.
var ErrRefused = errors.New("pqcheck: parquet file refused")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// Codec is the only compression codec the project writes.
const Codec = format.Zstd

// Footer checks the Thrift structure of a file's footer (the bytes between
// the pages and the length and magic at the end).
func Footer(footer []byte) error {
	n, _, err := Thrift(footer)
	if err != nil {
		return refuse("footer: %v", err)
	}
	if n != len(footer) {
		return refuse("footer: %d bytes after its end", len(footer)-n)
	}
	return nil
}

// Chunk is the byte range of one column chunk in a file.
type Chunk struct{ Offset, Size int64 }

// Chunks checks the metadata of a file of size bytes (every column chunk
// zstd and inside the file) and returns the column chunks' ranges.
func Chunks(md *format.FileMetaData, size int64) ([]Chunk, error) {
	var out []Chunk
	for g, rg := range md.RowGroups {
		for c, col := range rg.Columns {
			m := col.MetaData
			if m.Codec != Codec {
				return nil, refuse("row group %d column %d: codec %s, only %s is read", g, c, m.Codec, Codec)
			}
			start := m.DataPageOffset
			if d := m.DictionaryPageOffset; d > 0 && d < start {
				start = d
			}
			if start < 4 || m.TotalCompressedSize <= 0 || m.TotalCompressedSize > size-start {
				return nil, refuse("row group %d column %d: chunk %d+%d outside the %d-byte file", g, c, start, m.TotalCompressedSize, size)
			}
			out = append(out, Chunk{start, m.TotalCompressedSize})
		}
	}
	return out, nil
}

// Page types (format.PageType) the project writes.
const (
	dataPage       = 0
	dictionaryPage = 2
	dataPageV2     = 3
)

// Page checks the page (header and data) at the start of b: its header,
// sizes at most maxPage bytes once decompressed, and its data one zstd
// frame declaring the page's uncompressed size. It returns the page's
// length.
func Page(b []byte, maxPage int64) (int, error) {
	n, ints, err := Thrift(b)
	if err != nil {
		return 0, refuse("page header: %v", err)
	}
	typ, unc, comp := ints[1], ints[2], ints[3]
	if typ != dataPage && typ != dictionaryPage && typ != dataPageV2 {
		return 0, refuse("page type %d", typ)
	}
	if unc < 0 || unc > maxPage || comp < 0 || comp > int64(len(b)-n) {
		return 0, refuse("page sizes %d/%d (at most %d uncompressed, %d at hand)", unc, comp, maxPage, len(b)-n)
	}
	// num_values, num_nulls and num_rows of the data or dictionary page
	// header: parquet-go sizes buffers from them.
	for _, id := range []int16{1001, 1002, 1003} {
		if v := ints[id]; v < 0 || v > maxPage {
			return 0, refuse("page count %d", v)
		}
	}
	data := b[n : n+int(comp)]
	if typ == dataPageV2 {
		// Levels are stored uncompressed before the values.
		levels := ints[1005] + ints[1006]
		if ints[1005] < 0 || ints[1006] < 0 || levels > comp || levels > unc {
			return 0, refuse("page levels %d+%d in %d/%d bytes", ints[1005], ints[1006], comp, unc)
		}
		if v, ok := ints[1007]; ok && v == 0 { // is_compressed = false
			if comp != unc {
				return 0, refuse("uncompressed page of %d bytes declares %d", comp, unc)
			}
			return n + int(comp), nil
		}
		data, unc = data[levels:], unc-levels
	}
	if err := zstdFrame(data, unc); err != nil {
		return 0, err
	}
	return n + int(comp), nil
}

// Pages checks every page of a column chunk's bytes.
func Pages(chunk []byte, maxPage int64) error {
	for len(chunk) > 0 {
		n, err := Page(chunk, maxPage)
		if err != nil {
			return err
		}
		chunk = chunk[n:]
	}
	return nil
}

// headerWindow is how much of a page File reads first, for its header.
const headerWindow = 16 << 10

// File checks every page of every chunk of the file r (size bytes), reading
// one page at a time: the memory used is one page's compressed bytes.
func File(r io.ReaderAt, size int64, chunks []Chunk, maxPage int64) error {
	var buf []byte
	for _, c := range chunks {
		off, end := c.Offset, c.Offset+c.Size
		for off < end {
			want := min(end-off, headerWindow)
			var err error
			if buf, err = readAt(r, buf, off, want); err != nil {
				return err
			}
			var n int
			var ints map[int16]int64
			n, ints, err = Thrift(buf)
			if err != nil && want < end-off {
				// A header with large statistics: read up to a page.
				if buf, err = readAt(r, buf, off, min(end-off, maxPage)); err != nil {
					return err
				}
				n, ints, err = Thrift(buf)
			}
			if err != nil {
				return refuse("page header at %d: %v", off, err)
			}
			span := int64(n) + ints[3]
			if ints[3] < 0 || span > end-off {
				return refuse("page at %d: %d bytes in a chunk with %d left", off, span, end-off)
			}
			// zstd adds a few bytes per block to data it cannot compress.
			if ints[3] > maxPage+maxPage/64+1024 {
				return refuse("page at %d: %d compressed bytes", off, ints[3])
			}
			if int64(len(buf)) < span {
				if buf, err = readAt(r, buf, off, span); err != nil {
					return err
				}
			}
			if _, err := Page(buf[:span], maxPage); err != nil {
				return fmt.Errorf("page at %d: %w", off, err)
			}
			off += span
		}
	}
	return nil
}

// readAt reads n bytes at off into buf, growing it if need be.
func readAt(r io.ReaderAt, buf []byte, off, n int64) ([]byte, error) {
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := r.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read at %d: %w", off, err)
	}
	return buf, nil
}

// zstd frame layout (RFC 8878, section 3.1.1).
const (
	zstdMagic    = 0xFD2FB528
	maxBlockSize = 128 << 10
)

// zstdFrame checks that data is exactly one zstd frame, without a
// dictionary, whose header declares a content size of want bytes (or, for a
// page under 256 bytes, whose blocks cannot hold more than one block's
// worth), and whose blocks lie within data. It reads headers only, decompressing nothing.
func zstdFrame(data []byte, want int64) error {
	bad := func(what string) error { return refuse("zstd page: %s", what) }
	if len(data) < 5 || binary.LittleEndian.Uint32(data) != zstdMagic {
		return bad("not a zstd frame")
	}
	fhd := data[4]
	fcsFlag, single, checksum, dictFlag := fhd>>6, fhd>>5&1 == 1, fhd>>2&1 == 1, fhd&3
	if fhd&0x08 != 0 {
		return bad("reserved bit set")
	}
	if dictFlag != 0 {
		return bad("dictionary id")
	}
	pos := 5
	window := uint64(0) // the frame's window size, bounding a compressed block
	if !single {
		if len(data) < 6 {
			return bad("truncated header")
		}
		wd := data[5]
		base := uint64(1) << (10 + wd>>3)
		window = base + base/8*uint64(wd&7)
		pos++
	}
	fcsBytes := [4]int{0, 2, 4, 8}[fcsFlag]
	if fcsFlag == 0 && single {
		fcsBytes = 1
	}
	if len(data) < pos+fcsBytes {
		return bad("truncated header")
	}
	var fcs uint64
	for i := range fcsBytes {
		fcs |= uint64(data[pos+i]) << (8 * i)
	}
	if fcsBytes == 2 {
		fcs += 256
	}
	pos += fcsBytes
	if fcsBytes > 0 && fcs != uint64(want) {
		return bad(fmt.Sprintf("content size %d, page header says %d", fcs, want))
	}
	if single {
		window = fcs
	}
	var bound uint64 // the most the blocks can decompress to
	for last := false; !last; {
		if len(data)-pos < 3 {
			return bad("truncated block")
		}
		h := uint32(data[pos]) | uint32(data[pos+1])<<8 | uint32(data[pos+2])<<16
		pos += 3
		last = h&1 == 1
		size := int(h >> 3)
		switch h >> 1 & 3 {
		case 0: // raw
			bound += uint64(size)
		case 1: // RLE: one byte repeated size times
			bound += uint64(size)
			size = 1
		case 2: // compressed
			if size > maxBlockSize {
				return bad("block too large")
			}
			bound += min(window, maxBlockSize)
		default:
			return bad("reserved block type")
		}
		if size > len(data)-pos {
			return bad("block outside the page")
		}
		pos += size
	}
	// The writer leaves out the content size of a frame under 256 bytes
	// (not single-segment): bound what its blocks can hold instead.
	if fcsBytes == 0 && (want >= 256 || bound > maxBlockSize) {
		return bad(fmt.Sprintf("no content size, blocks of up to %d bytes for a %d-byte page", bound, want))
	}
	if checksum {
		pos += 4
	}
	if pos != len(data) {
		return bad("bytes after the frame")
	}
	return nil
}
