package manifest

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The Parquet reader allocates what a file's Thrift structures declare (list
// lengths, byte lengths, page sizes) before reading them, so a damaged or
// hostile file could make it allocate gigabytes. checkThrift walks a Thrift
// compact-protocol struct without allocating and rejects declared lengths
// that the bytes at hand cannot hold; Open, Row and All run it over every
// structure before the reader decodes it.

var errThrift = errors.New("malformed thrift structure")

// maxPageBytes bounds the uncompressed size of one page of a manifest.
const maxPageBytes = 64 << 20

type thriftWalker struct {
	b   []byte
	pos int
	// integer fields of the struct (by id) and of its child structs (by
	// 1000+id), for page headers.
	i32 map[int16]int64
}

// checkThrift checks that b starts with a well-formed struct and returns its
// length in bytes and its top-level integer fields.
func checkThrift(b []byte) (n int, ints map[int16]int64, err error) {
	w := &thriftWalker{b: b, i32: map[int16]int64{}}
	if err := w.structure(0); err != nil {
		return 0, nil, err
	}
	return w.pos, w.i32, nil
}

func (w *thriftWalker) byte1() (byte, error) {
	if w.pos >= len(w.b) {
		return 0, errThrift
	}
	c := w.b[w.pos]
	w.pos++
	return c, nil
}

func (w *thriftWalker) varint() (uint64, error) {
	v, n := binary.Uvarint(w.b[w.pos:])
	if n <= 0 {
		return 0, errThrift
	}
	w.pos += n
	return v, nil
}

func (w *thriftWalker) skip(n uint64) error {
	if n > uint64(len(w.b)-w.pos) {
		return errThrift
	}
	w.pos += int(n)
	return nil
}

func (w *thriftWalker) structure(depth int) error {
	if depth > 32 {
		return errThrift
	}
	var last int16
	for {
		h, err := w.byte1()
		if err != nil {
			return err
		}
		if h == 0 {
			return nil
		}
		typ, delta := h&0x0f, int16(h>>4)
		id := last + delta
		if delta == 0 {
			v, err := w.varint()
			if err != nil {
				return err
			}
			id = int16(int64(v>>1) ^ -int64(v&1))
		}
		last = id
		if typ == 1 || typ == 2 { // bool in the header
			continue
		}
		if depth <= 1 && (typ == 5 || typ == 6) {
			v, err := w.varint()
			if err != nil {
				return err
			}
			w.i32[id+int16(1000*depth)] = int64(v>>1) ^ -int64(v&1)
			continue
		}
		if err := w.value(typ, depth); err != nil {
			return err
		}
	}
}

func (w *thriftWalker) value(typ byte, depth int) error {
	switch typ {
	case 1, 2, 3: // bool in a list, byte
		return w.skip(1)
	case 4, 5, 6: // i16, i32, i64
		_, err := w.varint()
		return err
	case 7: // double
		return w.skip(8)
	case 8: // binary
		n, err := w.varint()
		if err != nil {
			return err
		}
		return w.skip(n)
	case 9, 10: // list, set
		h, err := w.byte1()
		if err != nil {
			return err
		}
		size, elem := uint64(h>>4), h&0x0f
		if size == 15 {
			if size, err = w.varint(); err != nil {
				return err
			}
		}
		if size > uint64(len(w.b)-w.pos) { // every element takes a byte
			return errThrift
		}
		for range size {
			if err := w.value(elem, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 11: // map
		size, err := w.varint()
		if err != nil {
			return err
		}
		if size == 0 {
			return nil
		}
		if size > uint64(len(w.b)-w.pos)/2 {
			return errThrift
		}
		kv, err := w.byte1()
		if err != nil {
			return err
		}
		for range size {
			if err := w.value(kv>>4, depth+1); err != nil {
				return err
			}
			if err := w.value(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 12: // struct
		return w.structure(depth + 1)
	}
	return errThrift
}

// checkPageHeader checks the page header at the start of page (the bytes of
// one page: header and data) and that its sizes fit.
func checkPageHeader(page []byte) error {
	n, ints, err := checkThrift(page)
	if err != nil {
		return fmt.Errorf("page header: %w", err)
	}
	unc, comp := ints[2], ints[3]
	if unc < 0 || unc > maxPageBytes || comp < 0 || comp > int64(len(page)-n) {
		return fmt.Errorf("page header: sizes %d/%d: %w", unc, comp, errThrift)
	}
	// num_values and num_rows of the data or dictionary page header.
	for _, id := range []int16{1001, 1002, 1003} {
		if v := ints[id]; v < 0 || v > maxPageBytes {
			return fmt.Errorf("page header: count %d: %w", v, errThrift)
		}
	}
	return nil
}

// pageSpan returns the length of the page (header and data) at the start of
// b, after checking its header.
func pageSpan(b []byte) (int, error) {
	if err := checkPageHeader(b); err != nil {
		return 0, err
	}
	n, ints, _ := checkThrift(b)
	return n + int(ints[3]), nil
}
