// Package pqchecktest damages Parquet files the way pqcheck must refuse,
// and guards the tests that read them against the memory a missing refusal
// would take.
package pqchecktest

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"reflect"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"

	"github.com/feedbatch/feedbatch/internal/pqcheck"
)

// footer decodes the footer of file and returns it with its offset.
func footer(t testing.TB, file []byte) (*format.FileMetaData, int) {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(file[len(file)-8:]))
	start := len(file) - 8 - n
	md := new(format.FileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), file[start:len(file)-8], md); err != nil {
		t.Fatalf("decode footer: %v", err)
	}
	return md, start
}

// SetCodec returns a copy of file (written zstd) whose column chunks all
// declare codec c: one byte changed in the footer per chunk, the data left
// as it is.
func SetCodec(t testing.TB, file []byte, c format.CompressionCodec) []byte {
	t.Helper()
	md, start := footer(t, file)
	out := append([]byte(nil), file...)
	// ColumnMetaData field 4 (codec, i32) follows field 3: a compact field
	// header 0x15, then the zigzag varint of ZSTD (6), 0x0c. Other fields
	// can hold those bytes too: keep the flips that change one codec alone.
	for i := start; i < len(file)-9; i++ {
		if file[i] != 0x15 || file[i+1] != 0x0c {
			continue
		}
		try := append([]byte(nil), file...)
		try[i+1] = byte(c << 1)
		if codecOnly(try, md, c) == 1 {
			out[i+1] = byte(c << 1)
		}
	}
	got, _ := footer(t, out)
	for _, rg := range got.RowGroups {
		for _, col := range rg.Columns {
			if col.MetaData.Codec != c {
				t.Fatalf("codec of a chunk not changed: %v", col.MetaData.Codec)
			}
		}
	}
	return out
}

// codecOnly returns how many chunks of file declare codec c, if file's
// footer decodes and is md otherwise; else -1.
func codecOnly(file []byte, md *format.FileMetaData, c format.CompressionCodec) int {
	n := int(binary.LittleEndian.Uint32(file[len(file)-8:]))
	got := new(format.FileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), file[len(file)-8-n:len(file)-8], got); err != nil {
		return -1
	}
	changed := 0
	for _, rg := range got.RowGroups {
		for i := range rg.Columns {
			if rg.Columns[i].MetaData.Codec == c {
				changed++
				rg.Columns[i].MetaData.Codec = format.Zstd
			}
		}
	}
	if !reflect.DeepEqual(md, got) {
		return -1
	}
	return changed
}

// LargestPage returns the offset of the page with the most compressed bytes.
func LargestPage(t testing.TB, file []byte) int64 {
	t.Helper()
	md, _ := footer(t, file)
	chunks, err := pqcheck.Chunks(md, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	best, bestSize := int64(-1), int64(0)
	for _, c := range chunks {
		for off := c.Offset; off < c.Offset+c.Size; {
			n, ints, err := pqcheck.Thrift(file[off:])
			if err != nil {
				t.Fatalf("page at %d: %v", off, err)
			}
			if ints[3] > bestSize {
				best, bestSize = off, ints[3]
			}
			off += int64(n) + ints[3]
		}
	}
	return best
}

// ZstdBomb returns a copy of file whose page at off keeps its place, type
// and declared uncompressed size, but whose data is a zstd frame without a
// content size made of RLE blocks: about 32,768 times its length once
// decompressed. The page's CRC is updated.
func ZstdBomb(t testing.TB, file []byte, off int64) []byte {
	t.Helper()
	var h format.PageHeader
	n, _, err := pqcheck.Thrift(file[off:])
	if err != nil {
		t.Fatal(err)
	}
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), file[off:off+int64(n)], &h); err != nil {
		t.Fatal(err)
	}
	span := n + int(h.CompressedPageSize)
	// The new header's length depends on the data's size and CRC: settle.
	var head, data []byte
	size := int(h.CompressedPageSize)
	for range 8 {
		data = bomb(size)
		h.CompressedPageSize = int32(size)
		h.CRC = int32(crc32.ChecksumIEEE(data))
		if head, err = thrift.Marshal(new(thrift.CompactProtocol), &h); err != nil {
			t.Fatal(err)
		}
		if len(head)+size == span {
			break
		}
		size = span - len(head)
	}
	if len(head)+len(data) != span {
		t.Fatal("bomb page does not fit its place")
	}
	out := append([]byte(nil), file...)
	copy(out[off:], head)
	copy(out[off+int64(len(head)):], data)
	return out
}

// bomb is a zstd frame of exactly size bytes (at least 12): no content
// size, a 128 KiB window, RLE blocks of 128 KiB, a last raw block to fill.
func bomb(size int) []byte {
	const block = 128 << 10
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 0x00, (17-10)<<3) // no single segment, no FCS; window 2^17
	for len(b)+4+3 <= size {
		h := uint32(1<<1 | block<<3) // RLE
		b = append(b, byte(h), byte(h>>8), byte(h>>16), 'x')
	}
	raw := size - len(b) - 3
	h := uint32(1 | raw<<3) // last, raw
	b = append(b, byte(h), byte(h>>8), byte(h>>16))
	return append(b, make([]byte, raw)...)
}

// HeapGuard makes the test binary fail (panic) as soon as the heap holds
// more than limit bytes, until the test ends: a test of a refusal then fails
// fast instead of taking the machine's memory when the refusal is missing.
// Tests using it must not run in parallel with others.
func HeapGuard(t testing.TB, limit uint64) {
	t.Helper()
	stop, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	name := t.Name()
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > limit {
				panic(fmt.Sprintf("%s: heap at %d MiB, over the test's %d MiB guard", name, v>>20, limit>>20))
			}
		}
	}()
}
