package jpeg

import mbits "math/bits"

// coeffStore keeps one component's DCT coefficients between the scans of
// a progressive JPEG, compactly: at scale 1 all 64 coefficients of a block
// as int16 (libjpeg's JCOEF; 128 bytes a block instead of 256), at scale
// s > 1 only the (8/s)x(8/s) low frequencies the reduced inverse DCT reads;
// at every scale a bit per coefficient, in zig-zag order, saying whether it
// is non-zero. Refinement scans need no more than that of the other
// coefficients: they read a correction bit for each non-zero one and only
// ever add to its magnitude, and the zig-zag mask lets them find the
// non-zero coefficients of a band with bit operations.
// A 2000x2000 4:2:0 progressive JPEG decoded at 1/2 keeps 3.8 MB
// (40 bytes a block) instead of 24 MB.
type coeffStore struct {
	n   int      // low-frequency side kept: 8/scale
	low []int16  // n*n coefficients per block, natural order within the n x n corner
	nz  []uint64 // bit z set when zig-zag coefficient z is non-zero
}

func newCoeffStore(blocks, scale int) coeffStore {
	n := 8 / max(scale, 1)
	return coeffStore{n: n, low: make([]int16, blocks*n*n), nz: make([]uint64, blocks)}
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
		b[unzig[mbits.TrailingZeros64(m)]] = 1
	}
	low := s.low[i*n*n : (i+1)*n*n]
	for y := range n {
		for x := range n {
			b[y*8+x] = int32(low[y*n+x])
		}
	}
}

// zigLow[n][z] is the index of zig-zag coefficient z in a block's n x n
// corner in coeffStore.low (natural order within the corner), or -1 when
// outside it.
var zigLow = func() (t [9][blockSize]int8) {
	for _, n := range []int{1, 2, 4, 8} {
		for z := range blockSize {
			k := unzig[z]
			x, y := k%8, k/8
			t[n][z] = -1
			if x < n && y < n {
				t[n][z] = int8(y*n + x)
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
	zl := &zigLow[n]
	m := s.nz[i]
	for zig := zigStart; zig <= zigEnd; zig++ {
		v := b[unzig[zig]]
		if j := zl[zig]; j >= 0 {
			low[j] = int16(v)
		}
		if v != 0 {
			m |= 1 << zig
		} else {
			m &^= 1 << zig
		}
	}
	s.nz[i] = m
}

// storeBlock is block i of a coeffStore, read and written in place by a
// refinement scan, so that it needs no load and save of its band.
type storeBlock struct {
	low  []int16
	zl   *[blockSize]int8
	mask uint64 // non-zero coefficients, zig-zag order
}

func (s *coeffStore) block(i int) storeBlock {
	nn := s.n * s.n
	return storeBlock{low: s.low[i*nn : (i+1)*nn], zl: &zigLow[s.n], mask: s.nz[i]}
}

// set gives zig-zag coefficient z the non-zero value v.
func (b *storeBlock) set(z int32, v int32) {
	if j := b.zl[z&63]; j >= 0 {
		b.low[j] = int16(v)
	}
	b.mask |= 1 << (z & 63)
}

// done writes the non-zero mask back.
func (s *coeffStore) done(i int, b *storeBlock) {
	s.nz[i] = b.mask
}
