package jpeg

import mbits "math/bits"

// coeffStore keeps one component's DCT coefficients between the scans of
// a progressive JPEG, compactly: at scale 1 all 64 coefficients of a block
// as int16 (libjpeg's JCOEF; 128 bytes a block instead of 256), at scale
// s > 1 only the (8/s)x(8/s) low frequencies the reduced inverse DCT reads,
// plus a bit per coefficient saying whether it is non-zero. Refinement
// scans need no more than that of the other coefficients: they read a
// correction bit for each non-zero one and only ever add to its magnitude.
// A 2000x2000 4:2:0 progressive JPEG decoded at 1/2 keeps 3.8 MB
// (40 bytes a block) instead of 24 MB.
type coeffStore struct {
	n   int      // low-frequency side kept: 8/scale
	low []int16  // n*n coefficients per block, natural order within the n x n corner
	nz  []uint64 // scale > 1: bit k set when natural-order coefficient k is non-zero
}

func newCoeffStore(blocks, scale int) coeffStore {
	n := 8 / max(scale, 1)
	s := coeffStore{n: n, low: make([]int16, blocks*n*n)}
	if n < 8 {
		s.nz = make([]uint64, blocks)
	}
	return s
}

// load fills b with block i's coefficients. At scale > 1, coefficients
// outside the low corner are 1 when non-zero (their magnitude is never
// read), 0 otherwise.
func (s *coeffStore) load(i int, b *block) {
	n := s.n
	if n == 8 {
		low := s.low[i*64 : i*64+64 : i*64+64]
		for k, v := range low {
			b[k] = int32(v)
		}
		return
	}
	*b = block{}
	for m := s.nz[i]; m != 0; m &= m - 1 {
		b[mbits.TrailingZeros64(m)] = 1
	}
	low := s.low[i*n*n : (i+1)*n*n]
	for y := range n {
		for x := range n {
			b[y*8+x] = int32(low[y*n+x])
		}
	}
}

// lowIndex[n][k] is the index of natural-order coefficient k in a block's
// n x n corner in coeffStore.low, or -1 when outside it.
var lowIndex = func() (t [9][blockSize]int8) {
	for _, n := range []int{1, 2, 4, 8} {
		for k := range blockSize {
			x, y := k%8, k/8
			t[n][k] = -1
			if x < n && y < n {
				t[n][k] = int8(y*n + x)
			}
		}
	}
	return t
}()

// saveBand stores the band [zigStart, zigEnd] of b as block i's (all a
// first scan writes).
func (s *coeffStore) saveBand(i int, b *block, zigStart, zigEnd int32) {
	n := s.n
	nn := n * n
	low := s.low[i*nn : (i+1)*nn]
	li := &lowIndex[n]
	if n == 8 {
		for zig := zigStart; zig <= zigEnd; zig++ {
			k := unzig[zig]
			low[k] = int16(b[k])
		}
		return
	}
	m := s.nz[i]
	for zig := zigStart; zig <= zigEnd; zig++ {
		k := unzig[zig]
		if j := li[k]; j >= 0 {
			low[j] = int16(b[k])
		}
		if b[k] != 0 {
			m |= 1 << k
		} else {
			m &^= 1 << k
		}
	}
	s.nz[i] = m
}

// storeBlock is block i of a coeffStore, read and written in place by a
// refinement scan (refineStored), so that it needs no load and save of its
// band. Coefficients outside the low corner read 1 when non-zero.
type storeBlock struct {
	s    *coeffStore
	low  []int16
	li   *[blockSize]int8
	mask uint64
}

func (s *coeffStore) block(i int) storeBlock {
	nn := s.n * s.n
	sb := storeBlock{s: s, low: s.low[i*nn : (i+1)*nn], li: &lowIndex[s.n]}
	if s.n < 8 {
		sb.mask = s.nz[i]
	}
	return sb
}

func (b *storeBlock) get(k int) int32 {
	if b.s.n == 8 {
		return int32(b.low[k])
	}
	if j := b.li[k]; j >= 0 {
		return int32(b.low[j])
	}
	return int32(b.mask >> k & 1)
}

func (b *storeBlock) set(k int, v int32) {
	if b.s.n == 8 {
		b.low[k] = int16(v)
		return
	}
	if j := b.li[k]; j >= 0 {
		b.low[j] = int16(v)
	}
	if v != 0 {
		b.mask |= 1 << k
	} else {
		b.mask &^= 1 << k
	}
}

// done writes the non-zero mask back.
func (b *storeBlock) done(i int) {
	if b.s.n < 8 {
		b.s.nz[i] = b.mask
	}
}
