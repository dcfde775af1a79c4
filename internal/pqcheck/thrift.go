package pqcheck

import (
	"encoding/binary"
	"errors"
)

// errThrift reports a Thrift structure that is malformed or declares more
// than its bytes hold.
var errThrift = errors.New("malformed thrift structure")

type thriftWalker struct {
	b   []byte
	pos int
	// integer and bool fields of the struct (by id) and of its child
	// structs (by 1000+id), for page headers.
	ints map[int16]int64
}

// Thrift checks that b starts with a well-formed Thrift compact-protocol
// struct whose declared lengths (lists, maps, binaries) the bytes at hand
// can hold, without allocating for them. It returns the struct's length in
// bytes and its integer and bool fields: those of the struct by field id,
// those of its child structs by 1000+id (bools as 1 or 0).
func Thrift(b []byte) (n int, ints map[int16]int64, err error) {
	w := &thriftWalker{b: b, ints: map[int16]int64{}}
	if err := w.structure(0); err != nil {
		return 0, nil, err
	}
	return w.pos, w.ints, nil
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
		if typ == 1 || typ == 2 { // bool in the header: 1 true, 2 false
			if depth <= 1 {
				w.ints[id+int16(1000*depth)] = int64(2 - typ)
			}
			continue
		}
		if depth <= 1 && (typ == 5 || typ == 6) {
			v, err := w.varint()
			if err != nil {
				return err
			}
			w.ints[id+int16(1000*depth)] = int64(v>>1) ^ -int64(v&1)
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
