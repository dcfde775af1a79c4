package jpeg

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"
)

// boxMean averages s x s blocks of the plane (edge blocks what they have).
func boxMean(p []byte, stride, w, h, s int) []float64 {
	dw, dh := (w+s-1)/s, (h+s-1)/s
	out := make([]float64, dw*dh)
	for y := range dh {
		for x := range dw {
			var sum, n float64
			for yy := y * s; yy < min(y*s+s, h); yy++ {
				for xx := x * s; xx < min(x*s+s, w); xx++ {
					sum += float64(p[yy*stride+xx])
					n++
				}
			}
			out[y*dw+x] = sum / n
		}
	}
	return out
}

func planePSNR(want []float64, got []byte, stride, w, h int) float64 {
	var se float64
	for y := range h {
		for x := range w {
			d := want[y*w+x] - float64(got[y*stride+x])
			se += d * d
		}
	}
	return 10 * math.Log10(255*255/(se/float64(w*h)))
}

// TestDecodeScaled: every scale of every sampling ratio, baseline and
// progressive, grey and CMYK, is close to the box-averaged full decode (the
// reduced IDCT drops frequencies the small image cannot hold, which a box
// average keeps as aliasing, so they differ at sharp edges), has the
// rounded-up size and the full decode's type. The exact arithmetic is
// pinned by TestIDCTReduced.
func TestDecodeScaled(t *testing.T) {
	minPSNR := map[string]float64{ // default 28 dB
		// 4:1:0 / 4:1:1 chroma at 1:8 spans 4 output pixels in the full
		// decode (nearest) but is low-passed here.
		"video-001.q50.410": 25, "video-001.q50.411": 26,
		// Green and blue subsampled 2x2: luma detail in a subsampled
		// plane, which the full decode repeats (nearest) and this one filters.
		"video-001.rgb": 19,
	}
	files := []string{
		"video-001", "video-001.progressive", "video-001.q50.410", "video-001.q50.411", "video-001.q50.420",
		"video-001.q50.422", "video-001.q50.440", "video-001.q50.444.progressive", "video-005.gray.q50",
		"video-005.gray.q50.2x2.progressive", "video-001.restart2", "video-001.cmyk", "video-001.rgb",
	}
	for _, name := range files {
		want := 28.0
		if v, ok := minPSNR[name]; ok {
			want = v
		}
		b, err := os.ReadFile("testdata/" + name + ".jpeg")
		if err != nil {
			t.Fatal(err)
		}
		full, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []int{2, 4, 8} {
			t.Run(fmt.Sprintf("%s/1:%d", name, s), func(t *testing.T) {
				m, err := DecodeScaled(bytes.NewReader(b), s)
				if err != nil {
					t.Fatal(err)
				}
				fb := full.Bounds()
				w, h := (fb.Dx()+s-1)/s, (fb.Dy()+s-1)/s
				if m.Bounds() != image.Rect(0, 0, w, h) {
					t.Fatalf("bounds %v, want %dx%d", m.Bounds(), w, h)
				}
				if fmt.Sprintf("%T", m) != fmt.Sprintf("%T", full) {
					t.Fatalf("type %T, full decode is %T", m, full)
				}
				// Compare in RGB against the box mean of the full decode.
				var se float64
				for y := range h {
					for x := range w {
						var sum [3]float64
						var n float64
						for yy := y * s; yy < min(y*s+s, fb.Dy()); yy++ {
							for xx := x * s; xx < min(x*s+s, fb.Dx()); xx++ {
								r, g, bl, _ := full.At(xx, yy).RGBA()
								sum[0], sum[1], sum[2] = sum[0]+float64(r>>8), sum[1]+float64(g>>8), sum[2]+float64(bl>>8)
								n++
							}
						}
						r, g, bl, _ := m.At(x, y).RGBA()
						for i, v := range []uint32{r, g, bl} {
							d := sum[i]/n - float64(v>>8)
							se += d * d
						}
					}
				}
				psnr := 10 * math.Log10(255*255/(se/float64(3*w*h)))
				if psnr < want {
					t.Errorf("PSNR against the box-averaged full decode %.1f dB, want >= %.0f", psnr, want)
				}
			})
		}
	}
}

// TestDecodeScaledDC: at 1:8 each pixel is exactly the block's DC mean; a
// flat image decodes to the same flat value at every scale.
func TestDecodeScaledFlat(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 37, 21))
	for i := range img.Pix {
		img.Pix[i] = 77
	}
	var buf bytes.Buffer
	if err := Encode(&buf, img, &Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []int{1, 2, 4, 8} {
		m, err := DecodeScaled(bytes.NewReader(buf.Bytes()), s)
		if err != nil {
			t.Fatal(err)
		}
		b := m.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if g := color.GrayModel.Convert(m.At(x, y)).(color.Gray).Y; g < 76 || g > 78 {
					t.Fatalf("scale %d: pixel %d,%d = %d, want 77", s, x, y, g)
				}
			}
		}
	}
}

// TestIDCTReduced checks the fixed-point reduced IDCTs against the formula
// in float64 on random blocks: at most one level apart.
func TestIDCTReduced(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var qt block
	for i := range qt {
		qt[i] = int32(1 + rng.IntN(40))
	}
	for iter := range 2000 {
		var b block
		for i := range b {
			if rng.IntN(3) == 0 || i == 0 {
				b[i] = int32(rng.IntN(2*1024/int(qt[zigOf[i]])+1) - 1024/int(qt[zigOf[i]]))
			}
		}
		for _, n := range []int{2, 4} {
			var dst [16]byte
			in := b
			if n == 4 {
				idct4(&in, &qt, dst[:], 4)
			} else {
				idct2(&in, &qt, dst[:], 4)
			}
			for y := range n {
				for x := range n {
					v := 0.0
					for fv := range n {
						for fu := range n {
							cu, cv := 0.5, 0.5
							if fu == 0 {
								cu = 0.5 / math.Sqrt2
							}
							if fv == 0 {
								cv = 0.5 / math.Sqrt2
							}
							f := float64(b[fv*8+fu] * qt[zigOf[fv*8+fu]])
							v += cu * cv * f * math.Cos(float64((2*x+1)*fu)*math.Pi/float64(2*n)) * math.Cos(float64((2*y+1)*fv)*math.Pi/float64(2*n))
						}
					}
					want := math.Max(0, math.Min(255, math.Round(v+128)))
					if got := float64(dst[y*4+x]); math.Abs(got-want) > 1 {
						t.Fatalf("block %d, n=%d, (%d,%d): got %v, want %v", iter, n, x, y, got, want)
					}
				}
			}
		}
	}
}

func TestDecodeScaledBadScale(t *testing.T) {
	if _, err := DecodeScaled(bytes.NewReader(nil), 3); err == nil {
		t.Fatal("scale 3 accepted")
	}
}

// photo is a w x h 4:2:0 q90 JPEG with gradients, edges and noise.
func photo(w, h int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			n := uint8(rng.IntN(24))
			e := uint8(0)
			if (x/40+y/40)%7 == 0 {
				e = 90
			}
			img.SetRGBA(x, y, color.RGBA{uint8(x*200/w) + n - e/2, uint8(y*200/h) + n, uint8((x+y)*100/(w+h)) + e, 255})
		}
	}
	var buf bytes.Buffer
	Encode(&buf, img, &Options{Quality: 90})
	return buf.Bytes()
}

func BenchmarkDecodeScaled(b *testing.B) {
	data := photo(2000, 2000)
	for _, s := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("2000x2000/1:%d", s), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeScaled(bytes.NewReader(data), s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDCOnly4: the DC-only shortcut writes what idct4 writes.
func TestDCOnly4(t *testing.T) {
	var qt block
	for i := range qt {
		qt[i] = 1
	}
	for f0 := int32(-2048 * 8); f0 <= 2048*8; f0++ {
		b := block{0: f0}
		var dst [16]byte
		idct4(&b, &qt, dst[:], 4)
		want := dcOnly4(f0)
		for i, v := range dst {
			if v != want {
				t.Fatalf("DC %d: idct4 wrote %d at %d, dcOnly4 %d", f0, v, i, want)
			}
		}
	}
}

// TestDecodeScaledHalfChroma: a 4:4:4 JPEG (baseline and progressive) at
// scales 1, 2 and 4 comes back 4:2:0 with DecodeScaled's luma, and chroma
// close to the 2x2 mean of DecodeScaled's; 4:2:0, 1:8, RGB and grey
// sources are decoded exactly as DecodeScaled does.
func TestDecodeScaledHalfChroma(t *testing.T) {
	for _, name := range []string{"video-001.q50.444", "video-001.q50.444.progressive"} {
		b, err := os.ReadFile("testdata/" + name + ".jpeg")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s/1:%d", name, s), func(t *testing.T) {
				ref, err := DecodeScaled(bytes.NewReader(b), s)
				if err != nil {
					t.Fatal(err)
				}
				m, err := DecodeScaledHalfChroma(bytes.NewReader(b), s)
				if err != nil {
					t.Fatal(err)
				}
				r, g := ref.(*image.YCbCr), m.(*image.YCbCr)
				if g.SubsampleRatio != image.YCbCrSubsampleRatio420 || g.Rect != r.Rect {
					t.Fatalf("%v %v, want 4:2:0 %v", g.SubsampleRatio, g.Rect, r.Rect)
				}
				w, h := r.Rect.Dx(), r.Rect.Dy()
				for y := range h {
					if !bytes.Equal(r.Y[y*r.YStride:][:w], g.Y[y*g.YStride:][:w]) {
						t.Fatalf("luma row %d differs", y)
					}
				}
				cw, ch := (w+1)/2, (h+1)/2
				for i, p := range [][2][]byte{{r.Cb, g.Cb}, {r.Cr, g.Cr}} {
					want := boxMean(p[0], r.CStride, w, h, 2)
					if psnr := planePSNR(want, p[1], g.CStride, cw, ch); psnr < 35 {
						t.Errorf("chroma plane %d: PSNR against the 2x2 mean %.1f dB, want >= 35", i, psnr)
					}
				}
			})
		}
	}
	for _, name := range []string{"video-001.q50.420", "video-001.rgb", "video-005.gray.q50", "video-001.q50.444"} {
		b, err := os.ReadFile("testdata/" + name + ".jpeg")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []int{1, 2, 4, 8} {
			if name == "video-001.q50.444" && s < 8 {
				continue
			}
			ref, err1 := DecodeScaled(bytes.NewReader(b), s)
			m, err2 := DecodeScaledHalfChroma(bytes.NewReader(b), s)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if !reflect.DeepEqual(ref, m) {
				t.Errorf("%s 1:%d: differs from DecodeScaled", name, s)
			}
		}
	}
}
