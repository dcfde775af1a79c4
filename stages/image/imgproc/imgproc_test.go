package imgproc

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/image/draw"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

var white = color.RGBA{255, 255, 255, 255}

func defaultSpec() Spec {
	return Spec{Width: 80, Height: 80, Quality: 90, Background: white}
}

// redBlue is w x h: left half red, right half blue.
func redBlue(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{255, 0, 0, 255}
			if x >= w/2 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

func encPNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encGIF(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	// Two frames: the second (green) must be ignored.
	p1 := image.NewPaletted(img.Bounds(), palette.Plan9)
	draw.Draw(p1, p1.Bounds(), img, image.Point{}, draw.Src)
	p2 := image.NewPaletted(img.Bounds(), palette.Plan9)
	draw.Draw(p2, p2.Bounds(), image.NewUniform(color.RGBA{0, 255, 0, 255}), image.Point{}, draw.Src)
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{p1, p2}, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// near reports whether two colours differ by at most tol per channel.
func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) int { return int(math.Abs(float64(int(x) - int(y)))) }
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol
}

func at(img image.Image, x, y int) color.RGBA {
	r, g, b, _ := img.At(x, y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}
}

// TestFormats decodes every supported format (64x48 red|blue, or the alpha
// fixture), renders it to 80x80 and checks dimensions, letterbox padding and
// colours in the output JPEG.
func TestFormats(t *testing.T) {
	rb := redBlue(64, 48)
	gray16 := image.NewGray16(image.Rect(0, 0, 64, 48))
	for i := range gray16.Pix {
		gray16.Pix[i] = 0x40
	}
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 64, 48))
	draw.Draw(rgba64, rgba64.Bounds(), rb, image.Point{}, draw.Src)
	pal := image.NewPaletted(image.Rect(0, 0, 64, 48), color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}})
	for y := range 48 {
		for x := 32; x < 64; x++ {
			pal.SetColorIndex(x, y, 1)
		}
	}
	// Transparent PNG: a green square on nothing; must come out on white.
	nrgba := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	draw.Draw(nrgba, image.Rect(16, 12, 48, 36), image.NewUniform(color.RGBA{0, 255, 0, 255}), image.Point{}, draw.Src)

	red, blue, green := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}, color.RGBA{0, 255, 0, 255}
	type probe struct {
		x, y int
		want color.RGBA
	}
	// 64x48 fitted into 80x80 is 80x60 at y 10..70.
	redBlueProbes := []probe{{20, 40, red}, {60, 40, blue}, {40, 2, white}, {40, 77, white}}
	alphaProbes := []probe{{40, 40, green}, {5, 40, white}, {40, 2, white}}
	tests := []struct {
		name   string
		data   func(t *testing.T) []byte
		format Format
		probes []probe
		tol    int
	}{
		{"jpeg baseline 4:2:0", func(t *testing.T) []byte { return encJPEG(t, rb) }, JPEG, redBlueProbes, 40},
		{"jpeg baseline 4:4:4", func(t *testing.T) []byte { return readFile(t, "baseline444.jpg") }, JPEG, redBlueProbes, 40},
		{"jpeg progressive", func(t *testing.T) []byte { return readFile(t, "progressive.jpg") }, JPEG, redBlueProbes, 40},
		{"jpeg cmyk", func(t *testing.T) []byte { return readFile(t, "cmyk.jpg") }, JPEG, redBlueProbes, 40},
		{"png rgba", func(t *testing.T) []byte { return encPNG(t, rb) }, PNG, redBlueProbes, 20},
		{"png 16-bit rgba", func(t *testing.T) []byte { return encPNG(t, rgba64) }, PNG, redBlueProbes, 20},
		{"png 16-bit gray", func(t *testing.T) []byte { return encPNG(t, gray16) }, PNG, []probe{{40, 40, color.RGBA{0x40, 0x40, 0x40, 255}}, {40, 2, white}}, 8},
		{"png palette", func(t *testing.T) []byte { return encPNG(t, pal) }, PNG, redBlueProbes, 20},
		{"png alpha on background", func(t *testing.T) []byte { return encPNG(t, nrgba) }, PNG, alphaProbes, 20},
		{"png interlaced palette (Adam7)", func(t *testing.T) []byte { return readFile(t, "interlaced.png") }, PNG, redBlueProbes, 20},
		{"png gray+alpha", func(t *testing.T) []byte { return readFile(t, "grayalpha.png") }, PNG, []probe{{40, 40, color.RGBA{150, 150, 150, 255}}, {5, 40, white}, {40, 2, white}}, 35},
		{"gif first frame", func(t *testing.T) []byte { return encGIF(t, rb) }, GIF, redBlueProbes, 40},
		{"webp lossy", func(t *testing.T) []byte { return readFile(t, "lossy.webp") }, WebP, redBlueProbes, 40},
		{"webp lossless alpha", func(t *testing.T) []byte { return readFile(t, "alpha.webp") }, WebP, alphaProbes, 20},
		{"bmp", func(t *testing.T) []byte { return readFile(t, "rb.bmp") }, BMP, redBlueProbes, 40},
		{"tiff", func(t *testing.T) []byte { return readFile(t, "rb.tiff") }, TIFF, redBlueProbes, 40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Process(tc.data(t), defaultSpec(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.format {
				t.Errorf("format %q, want %q", res.Format, tc.format)
			}
			if diff := cmp.Diff([2]int{64, 48}, [2]int{res.SourceWidth, res.SourceHeight}); diff != "" {
				t.Errorf("source size (-want +got):\n%s", diff)
			}
			out, err := jpeg.Decode(bytes.NewReader(res.JPEG))
			if err != nil {
				t.Fatalf("output is not a JPEG: %v", err)
			}
			if diff := cmp.Diff(image.Rect(0, 0, 80, 80), out.Bounds()); diff != "" {
				t.Errorf("output bounds (-want +got):\n%s", diff)
			}
			for _, p := range tc.probes {
				if got := at(out, p.x, p.y); !near(got, p.want, tc.tol) {
					t.Errorf("pixel (%d,%d) = %v, want %v (±%d)", p.x, p.y, got, p.want, tc.tol)
				}
			}
		})
	}
}

func TestFit(t *testing.T) {
	s := Spec{Width: 800, Height: 800, Quality: 85, Background: white}
	noup := s
	noup.NoUpscale = true
	tests := []struct {
		name string
		spec Spec
		w, h int
		want image.Rectangle
	}{
		{"square", s, 2000, 2000, image.Rect(0, 0, 800, 800)},
		{"landscape", s, 2000, 1400, image.Rect(0, 120, 800, 680)},
		{"portrait", s, 1000, 2000, image.Rect(200, 0, 600, 800)},
		{"small upscaled", s, 300, 200, image.Rect(0, 133, 800, 666)},
		{"small kept", noup, 300, 200, image.Rect(250, 300, 550, 500)},
		{"sliver", s, 10000, 1, image.Rect(0, 399, 800, 400)},
		{"not square box", Spec{Width: 600, Height: 300}, 100, 100, image.Rect(150, 0, 450, 300)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.spec.Fit(tc.w, tc.h)); diff != "" {
				t.Errorf("Fit(%d,%d) (-want +got):\n%s", tc.w, tc.h, diff)
			}
		})
	}
}

// TestGolden pins the output bytes of a few inputs: any change to the
// pixels must come with a new Version (it is part of the content address).
// Regenerate with go test ./stages/image/imgproc -update.
func TestGolden(t *testing.T) {
	inputs := map[string][]byte{
		"photo-landscape": encJPEG(t, photo(400, 280)),
		"photo-small":     encPNG(t, photo(50, 70)),
		"progressive":     readFile(t, "progressive.jpg"),
		"cmyk":            readFile(t, "cmyk.jpg"),
	}
	var lines []string
	for _, name := range []string{"cmyk", "photo-landscape", "photo-small", "progressive"} {
		res, err := Process(inputs[name], Spec{Width: 160, Height: 160, Quality: 85, Background: color.RGBA{0xf0, 0xf0, 0xf0, 255}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(res.JPEG)
		lines = append(lines, fmt.Sprintf("%s %dx%d %s", name, res.Width, res.Height, hex.EncodeToString(sum[:8])))
	}
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "render.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("render output changed; bump Version and run -update (-want +got):\n%s", diff)
	}
}

// photo is a smooth synthetic image with detail (gradients plus a pattern).
func photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8((x*7 + y*3) % 256)
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / max(w-1, 1)), uint8(y * 255 / max(h-1, 1)), v, 255})
		}
	}
	return img
}

func TestDeterministic(t *testing.T) {
	src := encJPEG(t, photo(450, 300))
	s := Spec{Width: 130, Height: 130, Quality: 85, Background: white}
	a, err := Process(src, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b, err := Process(src, s, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.JPEG, b.JPEG) {
			t.Fatal("same input and spec gave different bytes")
		}
	}
}

// pngHeader is a valid PNG signature + IHDR claiming w x h, and nothing else.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// TestHostile: bombs, truncated and disguised inputs are refused with the
// right sentinel and never panic.
func TestHostile(t *testing.T) {
	good := encJPEG(t, photo(200, 200))
	goodPNG := encPNG(t, photo(200, 200))
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"png bomb 100000x100000", pngHeader(100000, 100000), ErrPixelLimit},
		{"png 9000x9000 (81 MP)", pngHeader(9000, 9000), ErrPixelLimit},
		{"png header only", pngHeader(100, 100), ErrDecode},
		{"jpeg truncated", good[:len(good)/3], ErrDecode},
		{"jpeg magic only", []byte{0xFF, 0xD8, 0xFF}, ErrDecode},
		{"png truncated", goodPNG[:len(goodPNG)/2], ErrDecode},
		{"html as jpg", []byte("<!DOCTYPE html><html><body>404 not found</body></html>"), ErrNotAnImage},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>`), ErrNotAnImage},
		{"empty", nil, ErrNotAnImage},
		{"webp header only", []byte("RIFF\x10\x00\x00\x00WEBPVP8 \x00\x00\x00\x00"), ErrDecode},
		{"gif zero size", []byte("GIF89a\x00\x00\x00\x00\x00\x00\x00;"), ErrDecode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Process(tc.data, defaultSpec(), 0)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseBackground(t *testing.T) {
	tests := []struct {
		in      string
		want    color.RGBA
		wantErr bool
	}{
		{"", white, false},
		{"ffffff", white, false},
		{"#000", color.RGBA{0, 0, 0, 255}, false},
		{"F0a0B0", color.RGBA{0xf0, 0xa0, 0xb0, 255}, false},
		{"white", color.RGBA{}, true},
		{"fffff", color.RGBA{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseBackground(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// fuzzMaxPixels keeps the fuzzer's allocations small.
const fuzzMaxPixels = 1 << 20

// FuzzDecode: arbitrary bytes never panic, and never decode to more pixels
// than the limit nor allocate far beyond what the limit allows.
func FuzzDecode(f *testing.F) {
	f.Add(pngHeader(100000, 100000))
	f.Add(pngHeader(16, 16))
	f.Add([]byte("GIF89a\x10\x00\x10\x00\x00\x00\x00;"))
	f.Add([]byte("RIFF\x10\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff"))
	f.Add([]byte("II*\x00\x08\x00\x00\x00"))
	f.Add([]byte("BM"))
	for _, name := range []string{"cmyk.jpg", "progressive.jpg", "lossy.webp", "alpha.webp", "rb.tiff", "rb.bmp", "baseline444.jpg", "interlaced.png", "grayalpha.png"} {
		f.Add(readFile(f, name))
	}
	f.Add(encGIF(f, redBlue(8, 8)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		img, _, err := Decode(b, fuzzMaxPixels)
		runtime.ReadMemStats(&after)
		if err == nil {
			if px := int64(img.Bounds().Dx()) * int64(img.Bounds().Dy()); px > fuzzMaxPixels {
				t.Fatalf("decoded %v beyond the limit", img.Bounds())
			}
			_ = Render(img, Spec{Width: 16, Height: 16, Quality: 50, Background: white})
		}
		// 16 bytes per pixel covers 16-bit RGBA plus decoder buffers.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*fuzzMaxPixels+64*uint64(len(b))+8<<20 {
			t.Fatalf("allocated %d bytes for %d input bytes", alloc, len(b))
		}
	})
}

// TestMemoryEstimate: what Process really allocates stays within the
// estimate the stage budgets decodes by.
func TestMemoryEstimate(t *testing.T) {
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 400, 300))
	draw.Draw(rgba64, rgba64.Bounds(), photo(400, 300), image.Point{}, draw.Src)
	spec := Spec{Width: 100, Height: 100, Quality: 85, Background: white}
	for name, b := range map[string][]byte{
		"jpeg 600x500":     encJPEG(t, photo(600, 500)),
		"jpeg progressive": readFile(t, "../internal/jpeg/testdata/video-001.q50.444.progressive.jpeg"),
		"png 16-bit":       encPNG(t, rgba64),
		"png 8-bit rgba":   encPNG(t, photo(500, 500)),
		"gif":              encGIF(t, redBlue(300, 300)),
	} {
		t.Run(name, func(t *testing.T) {
			f, cfg, err := Config(b, 0)
			if err != nil {
				t.Fatal(err)
			}
			est := MemoryEstimate(cfg, f, spec)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if _, err := Process(b, spec, 0); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			alloc := int64(after.TotalAlloc - before.TotalAlloc)
			t.Logf("allocated %d KB, estimate %d KB", alloc>>10, est>>10)
			if alloc > est+est/4 {
				t.Errorf("allocated %d bytes > estimate %d + 25%%", alloc, est)
			}
		})
	}
}
