package jpeg

// Reduced inverse DCTs for DecodeScaled. An N-point inverse DCT of a
// block's N lowest frequencies (with the same orthonormal scaling as the
// 8-point one) gives N samples that approximate the mean of each 8/N
// pixels, without the frequencies the smaller image cannot hold: a
// low-pass filter and a downscale in one step, at a fraction of the cost.
//
//	g(x) = sum_{u<N} C(u)/2 * F(u) * cos((2x+1)*u*pi/(2N)),  C(0) = 1/sqrt(2), else 1
//
// applied to rows then columns; N = 1 is F(0,0)/8.

// zigOf maps a natural-order coefficient index to its zig-zag index (the
// order of the quantization tables).
var zigOf = func() (z [blockSize]int) {
	for zig, nat := range unzig {
		z[nat] = zig
	}
	return z
}()

// clampLevel level-shifts an inverse DCT sample by +128 and clips it to a byte.
func clampLevel(c int32) uint8 {
	switch {
	case c < -128:
		return 0
	case c > 127:
		return 255
	}
	return uint8(c + 128)
}

// Fixed-point constants, scaled by 1<<13.
const (
	idctK0 = 2896 // 1/(2*sqrt(2))
	idctK1 = 3784 // cos(pi/8)/2
	idctK3 = 1567 // cos(3pi/8)/2
)

// idct4 dequantizes the top-left 4x4 coefficients of b (natural order; qt in
// zig-zag order) and writes the 4x4 pixels of their inverse DCT to dst.
func idct4(b *block, qt *block, dst []byte, stride int) {
	var t [16]int
	for v := range 4 {
		r := v * 8
		f0 := int(b[r] * qt[zigOf[r]])
		f1 := int(b[r+1] * qt[zigOf[r+1]])
		f2 := int(b[r+2] * qt[zigOf[r+2]])
		f3 := int(b[r+3] * qt[zigOf[r+3]])
		e0, e1 := (f0+f2)*idctK0, (f0-f2)*idctK0
		o0, o1 := f1*idctK1+f3*idctK3, f1*idctK3-f3*idctK1
		t[v*4], t[v*4+1], t[v*4+2], t[v*4+3] = e0+o0, e1+o1, e1-o1, e0-o0
	}
	const shift = 26
	const round = 1<<(shift-1) + 128<<shift
	_ = dst[3*stride+3]
	for x := range 4 {
		f0, f1, f2, f3 := t[x], t[4+x], t[8+x], t[12+x]
		e0, e1 := (f0+f2)*idctK0, (f0-f2)*idctK0
		o0, o1 := f1*idctK1+f3*idctK3, f1*idctK3-f3*idctK1
		dst[x] = clamp8((e0 + o0 + round) >> shift)
		dst[stride+x] = clamp8((e1 + o1 + round) >> shift)
		dst[2*stride+x] = clamp8((e1 - o1 + round) >> shift)
		dst[3*stride+x] = clamp8((e0 - o0 + round) >> shift)
	}
}

// dcOnly4 is every pixel idct4 writes for a block whose only non-zero
// coefficient (of the 4x4 it reads) is the dequantized DC f0.
func dcOnly4(f0 int32) uint8 {
	const shift = 26
	const round = 1<<(shift-1) + 128<<shift
	return clamp8((int(f0)*idctK0*idctK0 + round) >> shift)
}

// idct2 is idct4 for the top-left 2x2 coefficients: 2x2 pixels.
func idct2(b *block, qt *block, dst []byte, stride int) {
	f00 := b[0] * qt[0]
	f01 := b[1] * qt[zigOf[1]]
	f10 := b[8] * qt[zigOf[8]]
	f11 := b[9] * qt[zigOf[9]]
	a, c := f00+f10, f00-f10 // top row sums, bottom row sums
	_ = dst[stride+1]
	dst[0] = clampLevel((a + f01 + f11 + 4) >> 3)
	dst[1] = clampLevel((a - f01 - f11 + 4) >> 3)
	dst[stride] = clampLevel((c + f01 - f11 + 4) >> 3)
	dst[stride+1] = clampLevel((c - f01 + f11 + 4) >> 3)
}

func clamp8(v int) uint8 {
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}
