package imgproc

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/draw"
)

// detailed is a w x h image with smooth gradients, fine stripes and noise:
// the kind of content on which a kernel without a prefilter aliases.
func detailed(w, h int) *image.RGBA {
	rng := rand.New(rand.NewPCG(1, 2))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			stripe := uint8(0)
			if (x/2+y/3)%2 == 0 {
				stripe = 60
			}
			n := uint8(rng.IntN(40))
			img.SetRGBA(x, y, color.RGBA{uint8(x*180/w) + stripe/2 + n/2, uint8(y*180/h) + stripe/3, uint8((x+y)*100/(w+h)) + stripe + n, 255})
		}
	}
	return img
}

// kernels are the candidate resize methods, all drawing into an 800x800-style box.
var kernels = []struct {
	name string
	fn   func(dst *image.RGBA, r image.Rectangle, src image.Image)
}{
	{"approxbilinear", func(dst *image.RGBA, r image.Rectangle, src image.Image) {
		draw.ApproxBiLinear.Scale(dst, r, src, src.Bounds(), draw.Over, nil)
	}},
	{"catmullrom", func(dst *image.RGBA, r image.Rectangle, src image.Image) {
		draw.CatmullRom.Scale(dst, r, src, src.Bounds(), draw.Over, nil)
	}},
	{"box+catmullrom", func(dst *image.RGBA, r image.Rectangle, src image.Image) {
		k := src.Bounds().Dx() / r.Dx()
		if k >= 2 {
			src = boxShrink(src, k, white)
		}
		draw.CatmullRom.Scale(dst, r, src, src.Bounds(), draw.Over, nil)
	}},
}

func psnr(a, b *image.RGBA) float64 {
	var se float64
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := float64(a.Pix[i]) - float64(b.Pix[i])
		se += d * d
	}
	mse := se / float64(len(a.Pix)/4*3)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

// areaAverage is the reference downscale: every output pixel is the exact
// (fractionally weighted) mean of the source area it covers.
func areaAverage(src *image.RGBA, w, h int) *image.RGBA {
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	fx, fy := float64(sw)/float64(w), float64(sh)/float64(h)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		y0, y1 := float64(y)*fy, float64(y+1)*fy
		for x := range w {
			x0, x1 := float64(x)*fx, float64(x+1)*fx
			var sum [3]float64
			var wsum float64
			for sy := int(y0); float64(sy) < y1 && sy < sh; sy++ {
				wy := math.Min(y1, float64(sy+1)) - math.Max(y0, float64(sy))
				for sx := int(x0); float64(sx) < x1 && sx < sw; sx++ {
					wgt := wy * (math.Min(x1, float64(sx+1)) - math.Max(x0, float64(sx)))
					p := src.Pix[sy*src.Stride+sx*4:]
					for c := range 3 {
						sum[c] += wgt * float64(p[c])
					}
					wsum += wgt
				}
			}
			q := dst.Pix[y*dst.Stride+x*4:]
			for c := range 3 {
				q[c] = uint8(math.Round(sum[c] / wsum))
			}
			q[3] = 255
		}
	}
	return dst
}

// TestKernelQuality measures each kernel against the exact area average on
// a 3.3x downscale with fine detail, and pins the choice made in Render: box
// prefilter + Catmull-Rom on the planes must be close to the reference and
// clearly better than ApproxBiLinear.
func TestKernelQuality(t *testing.T) {
	src := detailed(600, 600)
	ref := areaAverage(src, 180, 180)
	got := map[string]float64{}
	for _, k := range kernels {
		dst := image.NewRGBA(image.Rect(0, 0, 180, 180))
		k.fn(dst, dst.Bounds(), src)
		got[k.name] = psnr(ref, dst)
		t.Logf("%-26s PSNR vs area average: %.1f dB", k.name, got[k.name])
	}
	if got["box+catmullrom"] < 35 {
		t.Errorf("box+catmullrom PSNR %.1f dB < 35", got["box+catmullrom"])
	}
	// Render: the same filter on Y/Cb/Cr planes, into a 4:2:0 canvas
	// (chroma at half resolution costs some dB on this colour-striped input).
	out := image.NewRGBA(image.Rect(0, 0, 180, 180))
	draw.Draw(out, out.Bounds(), Render(src, Spec{Width: 180, Height: 180, Quality: 85, Background: white}), image.Point{}, draw.Src)
	got["render"] = psnr(ref, out)
	t.Logf("%-26s PSNR vs area average: %.1f dB", "render (4:2:0 planes)", got["render"])
	if got["render"] < 35 {
		t.Errorf("Render PSNR %.1f dB < 35", got["render"])
	}
	if got["approxbilinear"]+3 > got["render"] {
		t.Errorf("approxbilinear (%.1f dB) not clearly worse than Render (%.1f dB): revisit the choice", got["approxbilinear"], got["render"])
	}
	if got["approxbilinear"]+3 > got["box+catmullrom"] {
		t.Errorf("approxbilinear (%.1f dB) not clearly worse than box+catmullrom (%.1f dB): revisit the choice", got["approxbilinear"], got["box+catmullrom"])
	}
}

// BenchmarkResize: 2000x2000 decoded JPEG -> 800x800 padded, per kernel;
// "render+encode" is the full Render+Encode path, "process" adds decode.
func BenchmarkResize(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, detailed(2000, 2000), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	src, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		b.Fatal(err)
	}
	spec := Spec{Width: 800, Height: 800, Quality: 85, Background: white}
	for _, k := range kernels {
		b.Run(k.name, func(b *testing.B) {
			for b.Loop() {
				dst := image.NewRGBA(image.Rect(0, 0, 800, 800))
				k.fn(dst, dst.Bounds(), src)
			}
		})
	}
	b.Run("render (jpeg planes box+catmullrom)", func(b *testing.B) {
		for b.Loop() {
			Render(src, spec)
		}
	})
	b.Run("render+encode", func(b *testing.B) {
		for b.Loop() {
			if err := Encode(&bytes.Buffer{}, Render(src, spec), 85); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("process", func(b *testing.B) {
		b.SetBytes(int64(buf.Len()))
		for b.Loop() {
			if _, err := Process(buf.Bytes(), spec, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBoxShrinkYCbCr: averaging the planes of a decoded JPEG matches
// averaging its RGB pixels, for every chroma subsampling JPEG uses.
func TestBoxShrinkYCbCr(t *testing.T) {
	src := detailed(301, 199) // odd sizes: partial edge blocks
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		for _, k := range []int{2, 3, 5} {
			t.Run(fmt.Sprintf("%v/k=%d", ratio, k), func(t *testing.T) {
				y := image.NewYCbCr(src.Bounds(), ratio)
				for py := range src.Rect.Dy() {
					for px := range src.Rect.Dx() {
						c := src.RGBAAt(px, py)
						yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
						y.Y[y.YOffset(px, py)] = yy
						// Chroma: the top-left sample of each chroma block.
						if ci := y.COffset(px, py); ci == y.COffset(px-px%chromaStep(ratio).X, py-py%chromaStep(ratio).Y) {
							y.Cb[ci], y.Cr[ci] = cb, cr
						}
					}
				}
				want := image.NewRGBA(image.Rect(0, 0, (301+k-1)/k, (199+k-1)/k))
				draw.Draw(want, want.Bounds(), boxShrink(y, k, white), image.Point{}, draw.Src)
				got := image.NewRGBA(want.Bounds())
				draw.Draw(got, got.Bounds(), boxShrinkYCbCr(y, k), image.Point{}, draw.Src)
				if p := psnr(want, got); p < 38 {
					t.Errorf("PSNR %.1f dB against RGB averaging, want >= 38", p)
				}
			})
		}
	}
}

// TestRenderEdges: a flat source lands on exactly its rectangle, at odd
// offsets too; pixels outside are the background, inside the colour, and
// only the chroma samples straddling an edge mix the two.
func TestRenderEdges(t *testing.T) {
	red := color.RGBA{200, 30, 40, 255}
	bg := color.RGBA{10, 240, 120, 255}
	for _, sz := range []image.Point{{301, 200}, {200, 301}, {77, 33}, {1000, 999}, {40, 40}} {
		src := image.NewRGBA(image.Rect(0, 0, sz.X, sz.Y))
		draw.Draw(src, src.Bounds(), image.NewUniform(red), image.Point{}, draw.Src)
		s := Spec{Width: 81, Height: 80, Quality: 85, Background: bg}
		r := s.Fit(sz.X, sz.Y)
		out := Render(src, s)
		if out.Rect != image.Rect(0, 0, 81, 80) {
			t.Fatalf("%v: canvas %v", sz, out.Rect)
		}
		for y := range 80 {
			for x := range 81 {
				p := image.Pt(x, y)
				want := bg
				if p.In(r) {
					want = red
				}
				edge := x == r.Min.X || x == r.Max.X-1 || x == r.Min.X-1 || x == r.Max.X ||
					y == r.Min.Y || y == r.Max.Y-1 || y == r.Min.Y-1 || y == r.Max.Y
				if tol := 4; !edge && !near(at(out, x, y), want, tol) {
					t.Fatalf("%v into %v: pixel %v = %v, want %v", sz, r, p, at(out, x, y), want)
				}
			}
		}
	}
}

// TestMakeWeights: the weights of every output sample sum to one, stay in
// the source, and the same size is the identity.
func TestMakeWeights(t *testing.T) {
	for _, tc := range []struct{ src, dst int }{{1000, 800}, {800, 800}, {10, 800}, {1, 5}, {5000, 7}, {3, 2}} {
		a := float64(tc.src) / float64(tc.dst)
		w := makeWeights(tc.src, tc.dst, a, 0.5*a-0.5)
		for i := range tc.dst {
			sum := int32(0)
			for _, v := range w.w[i*w.n : i*w.n+w.n] {
				sum += v
			}
			if sum != 1<<weightBits {
				t.Fatalf("%d->%d: output %d weights sum to %d", tc.src, tc.dst, i, sum)
			}
			if s := int(w.start[i]); s < 0 || s+w.n > tc.src {
				t.Fatalf("%d->%d: output %d reads [%d,%d)", tc.src, tc.dst, i, s, s+w.n)
			}
			if tc.src == tc.dst && w.w[i*w.n+i-int(w.start[i])] != 1<<weightBits {
				t.Fatalf("%d->%d: not the identity at %d", tc.src, tc.dst, i)
			}
		}
	}
}

// BenchmarkResample: one 1000x1000 plane to 800x800 (the luma of a
// 2000x2000 JPEG decoded at 1/2 for an 800x800 box).
func BenchmarkResample(b *testing.B) {
	src := plane{pix: make([]byte, 1000*1000), stride: 1000, w: 1000, h: 1000}
	for i := range src.pix {
		src.pix[i] = uint8(i * 7 % 251)
	}
	dst := plane{pix: make([]byte, 800*800), stride: 800, w: 800, h: 800}
	a := 1000.0 / 800
	wx := makeWeights(1000, 800, a, 0.5*a-0.5)
	for _, pad := range []bool{false, true} {
		px := wx
		if pad {
			px = padTaps(wx, 1000)
		}
		b.Run(fmt.Sprintf("%d-taps", px.n), func(b *testing.B) {
			var tmp resampleBuf
			for b.Loop() {
				resample(dst, src, px, px, &tmp)
			}
		})
	}
}

// TestPadTaps: widened weights resample exactly as the originals.
func TestPadTaps(t *testing.T) {
	for _, tc := range []struct{ src, dst int }{{1000, 800}, {640, 800}, {37, 20}, {9, 5}, {5, 3}, {3, 7}, {2000, 800}, {1500, 800}} {
		src := plane{pix: make([]byte, tc.src*4), stride: tc.src, w: tc.src, h: 4}
		for i := range src.pix {
			src.pix[i] = uint8(i * 37 % 253)
		}
		a := float64(tc.src) / float64(tc.dst)
		wx := makeWeights(tc.src, tc.dst, a, 0.5*a-0.5+gridShift(a))
		// The same weights vertically: a square source.
		src = plane{pix: make([]byte, tc.src*tc.src), stride: tc.src, w: tc.src, h: tc.src}
		for i := range src.pix {
			src.pix[i] = uint8(i * 37 % 253)
		}
		want := plane{pix: make([]byte, tc.dst*tc.dst), stride: tc.dst, w: tc.dst, h: tc.dst}
		got := plane{pix: make([]byte, tc.dst*tc.dst), stride: tc.dst, w: tc.dst, h: tc.dst}
		resample(want, src, wx, wx, nil)
		p := padTaps(wx, tc.src)
		resample(got, src, p, p, nil)
		if !bytes.Equal(got.pix, want.pix) {
			t.Errorf("%d -> %d: %d taps padded to %d resample differently", tc.src, tc.dst, wx.n, p.n)
		}
	}
}

// resampleNaive is resample written plainly: each pass a sum over its taps.
func resampleNaive(dst, src plane, wx, wy weights) {
	const round = 1 << (weightBits - 1)
	tmp := make([]byte, src.h*dst.w)
	for y := range src.h {
		for x := range dst.w {
			sum := int32(round)
			for k := range wx.n {
				sum += int32(src.pix[y*src.stride+int(wx.start[x])+k]) * wx.w[x*wx.n+k]
			}
			tmp[y*dst.w+x] = clampShift(sum)
		}
	}
	for y := range dst.h {
		for x := range dst.w {
			sum := int32(round)
			for k := range wy.n {
				sum += int32(tmp[(int(wy.start[y])+k)*dst.w+x]) * wy.w[y*wy.n+k]
			}
			dst.pix[y*dst.stride+x] = clampShift(sum)
		}
	}
}

// TestResampleUnrolled: the unrolled loops (4 to 8 taps) and the generic
// one give the plain sums, shrinking and enlarging, for every tap count.
func TestResampleUnrolled(t *testing.T) {
	seen := map[int]bool{}
	for _, tc := range []struct{ src, dst int }{{1000, 800}, {640, 800}, {37, 20}, {9, 5}, {5, 3}, {3, 7}, {2000, 800}, {1500, 800},
		{900, 800}, {1100, 800}, {1300, 800}, {1500, 800}, {1700, 800}, {1900, 800}, {2500, 800}, {4000, 800}} {
		src := plane{pix: make([]byte, tc.src*tc.src), stride: tc.src, w: tc.src, h: tc.src}
		for i := range src.pix {
			src.pix[i] = uint8(i * 37 % 253)
		}
		a := float64(tc.src) / float64(tc.dst)
		wx := padTaps(makeWeights(tc.src, tc.dst, a, 0.5*a-0.5+gridShift(a)), tc.src)
		seen[wx.n] = true
		want := plane{pix: make([]byte, tc.dst*tc.dst), stride: tc.dst, w: tc.dst, h: tc.dst}
		got := plane{pix: make([]byte, tc.dst*tc.dst), stride: tc.dst, w: tc.dst, h: tc.dst}
		resampleNaive(want, src, wx, wx)
		resample(got, src, wx, wx, nil)
		if !bytes.Equal(got.pix, want.pix) {
			t.Errorf("%d -> %d (%d taps): resample differs from the plain sums", tc.src, tc.dst, wx.n)
		}
	}
	for n := 4; n <= 10; n++ {
		if !seen[n] {
			t.Errorf("no case with %d taps", n)
		}
	}
}

// TestHalvePlane: each sample is the rounded mean of its 2x2 block, edge
// blocks of what they have, for even and odd sizes.
func TestHalvePlane(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {2, 2}, {3, 5}, {8, 7}, {17, 4}} {
		w, h := sz[0], sz[1]
		p := plane{pix: make([]byte, (w+3)*h), stride: w + 3, w: w, h: h}
		for i := range p.pix {
			p.pix[i] = uint8(i*53 + i/5)
		}
		got := halvePlane(p)
		if got.w != (w+1)/2 || got.h != (h+1)/2 {
			t.Fatalf("%dx%d: halved to %dx%d", w, h, got.w, got.h)
		}
		for y := range got.h {
			for x := range got.w {
				var sum, n int
				for yy := 2 * y; yy < min(2*y+2, h); yy++ {
					for xx := 2 * x; xx < min(2*x+2, w); xx++ {
						sum += int(p.pix[yy*p.stride+xx])
						n++
					}
				}
				if want := (sum + n/2) / n; int(got.pix[y*got.stride+x]) != want {
					t.Errorf("%dx%d: sample (%d, %d) %d, want %d", w, h, x, y, got.pix[y*got.stride+x], want)
				}
			}
		}
	}
}
