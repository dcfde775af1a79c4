package collect

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/feedbatch/feedbatch/internal/spool"
)

// Duplicate ids are removed in bounded memory. While products are written
// to the spooled catalog, each one's (hash of id, position) pair goes to a
// file (16 bytes a product, on disk). The pairs are then sorted in chunks of
// sortChunk pairs (1 MiB) into run files and merged; within each run of
// equal hashes every position but the last is a duplicate, and is marked in
// a bitmap of positions (1 bit a product: 125 KB per million). A second
// pass copies the spooled catalog without the marked positions. Memory is
// one chunk plus the bitmap, whatever the catalog's size; the bitmap is the
// only part that grows, by an eighth of a byte a product. Hashes are 64-bit
// maphash values with a per-run seed: two different ids collide with odds
// of about n²/2⁶⁵ (3·10⁻⁸ for a million products), an accepted risk.

// sortChunk is the number of pairs sorted in memory at once (a variable for tests).
var sortChunk int64 = 1 << 16

type pair struct{ hash, pos uint64 }

func cmpPair(a, b pair) int {
	if a.hash != b.hash {
		if a.hash < b.hash {
			return -1
		}
		return 1
	}
	if a.pos < b.pos {
		return -1
	} else if a.pos > b.pos {
		return 1
	}
	return 0
}

// pairWriter appends pairs to a file.
type pairWriter struct {
	f   *os.File
	w   *bufio.Writer
	n   int64
	buf [16]byte
}

func newPairWriter(dir string) (*pairWriter, error) {
	f, err := spool.Create(dir, "feedbatch-collect-ids-*")
	if err != nil {
		return nil, err
	}
	return &pairWriter{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (p *pairWriter) add(hash, pos uint64) error {
	binary.LittleEndian.PutUint64(p.buf[:8], hash)
	binary.LittleEndian.PutUint64(p.buf[8:], pos)
	p.n++
	_, err := p.w.Write(p.buf[:])
	return err
}

// close flushes the pairs; the caller closes p.f once they are read.
func (p *pairWriter) close() error {
	return p.w.Flush()
}

func readPair(r *bufio.Reader, buf *[16]byte) (pair, error) {
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return pair{}, err
	}
	return pair{binary.LittleEndian.Uint64(buf[:8]), binary.LittleEndian.Uint64(buf[8:])}, nil
}

// bitmap marks positions.
type bitmap []uint64

func newBitmap(n int64) bitmap     { return make(bitmap, (n+63)/64) }
func (b bitmap) set(i uint64)      { b[i/64] |= 1 << (i % 64) }
func (b bitmap) has(i uint64) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitmap) count() (n int64)  { return int64(popcount(b)) }
func popcount(b []uint64) (n int) {
	for _, w := range b {
		for w != 0 {
			w &= w - 1
			n++
		}
	}
	return n
}

// findDuplicates reads the pairs file of n products and returns the
// positions to drop (every occurrence of an id but its last) and how many.
func findDuplicates(dir string, pairs io.ReaderAt, n int64) (bitmap, int64, error) {
	drop := newBitmap(n)
	br := bufio.NewReaderSize(io.NewSectionReader(pairs, 0, n*16), 64<<10)
	var runs []*os.File // sorted runs of sortChunk pairs (the last shorter), spool files
	var sizes []int64
	defer func() {
		for _, f := range runs {
			f.Close()
		}
	}()
	chunk := make([]pair, 0, min(n, sortChunk))
	var buf [16]byte
	flush := func() error {
		slices.SortFunc(chunk, cmpPair)
		f, err := spool.Create(dir, "feedbatch-collect-run-*")
		if err != nil {
			return err
		}
		runs, sizes = append(runs, f), append(sizes, int64(len(chunk))*16)
		w := bufio.NewWriterSize(f, 64<<10)
		for _, p := range chunk {
			binary.LittleEndian.PutUint64(buf[:8], p.hash)
			binary.LittleEndian.PutUint64(buf[8:], p.pos)
			w.Write(buf[:])
		}
		if err := w.Flush(); err != nil {
			return err
		}
		chunk = chunk[:0]
		return nil
	}
	for {
		p, err := readPair(br, &buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("dedup: %w", err)
		}
		chunk = append(chunk, p)
		if len(chunk) == cap(chunk) && int64(len(runs)+1)*sortChunk < n {
			if err := flush(); err != nil {
				return nil, 0, fmt.Errorf("dedup: %w", err)
			}
		}
	}
	// Walk all pairs in (hash, pos) order.
	var prev pair
	have := false
	visit := func(p pair) {
		if have && p.hash == prev.hash {
			drop.set(prev.pos)
		}
		prev, have = p, true
	}
	if len(runs) == 0 {
		slices.SortFunc(chunk, cmpPair)
		for _, p := range chunk {
			visit(p)
		}
		return drop, drop.count(), nil
	}
	if len(chunk) > 0 {
		if err := flush(); err != nil {
			return nil, 0, fmt.Errorf("dedup: %w", err)
		}
	}
	chunk = nil
	h := &mergeHeap{}
	for i, f := range runs {
		r := bufio.NewReaderSize(io.NewSectionReader(f, 0, sizes[i]), 16<<10)
		p, err := readPair(r, &buf)
		if err != nil {
			return nil, 0, fmt.Errorf("dedup: run %d: %w", i, err)
		}
		h.items = append(h.items, mergeItem{p, r})
	}
	heap.Init(h)
	for h.Len() > 0 {
		top := &h.items[0]
		visit(top.p)
		p, err := readPair(top.r, &buf)
		if errors.Is(err, io.EOF) {
			heap.Pop(h)
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("dedup: %w", err)
		}
		top.p = p
		heap.Fix(h, 0)
	}
	return drop, drop.count(), nil
}

type mergeItem struct {
	p pair
	r *bufio.Reader
}

type mergeHeap struct{ items []mergeItem }

func (h *mergeHeap) Len() int           { return len(h.items) }
func (h *mergeHeap) Less(i, j int) bool { return cmpPair(h.items[i].p, h.items[j].p) < 0 }
func (h *mergeHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap) Push(x any)         { h.items = append(h.items, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
