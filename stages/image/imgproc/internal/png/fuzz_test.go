package png

import (
	"bytes"
	"image"
	"image/color"
	stdpng "image/png"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks the decoder against image/png, from which it differs
// only by its inflater: the same pixels, or an error from both.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"grayalpha.png", "interlaced.png"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	var buf bytes.Buffer
	img := image.NewNRGBA(image.Rect(0, 0, 37, 21))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 13)
	}
	if err := stdpng.Encode(&buf, img); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := DecodeConfig(bytes.NewReader(b))
		if err != nil || int64(cfg.Width)*int64(cfg.Height) > 1<<20 {
			return
		}
		got, err := Decode(bytes.NewReader(b))
		want, stdErr := stdpng.Decode(bytes.NewReader(b))
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("error %v, image/png's %v", err, stdErr)
		}
		if err != nil {
			return
		}
		if got.Bounds() != want.Bounds() {
			t.Fatalf("bounds %v, image/png's %v", got.Bounds(), want.Bounds())
		}
		r := got.Bounds()
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if g, w := got.At(x, y), want.At(x, y); g != w {
					t.Fatalf("pixel (%d, %d) %v, image/png's %v", x, y, g, w)
				}
			}
		}
		checkRows(t, b, want)
	})
}

// checkRows checks DecodeRows against want (the image Decode returns):
// streamed rows carry want's pixels, or the image is want.
func checkRows(t *testing.T, b []byte, want image.Image) (streamed bool) {
	t.Helper()
	r := want.Bounds()
	rows := 0
	img, err := DecodeRows(bytes.NewReader(b), func(y int, row []byte, bpp int) {
		if y != rows || len(row) != bpp*r.Dx() {
			t.Fatalf("row %d (want %d) of %d bytes (%d a pixel, width %d)", y, rows, len(row), bpp, r.Dx())
		}
		rows++
		for x := range r.Dx() {
			p := row[bpp*x:]
			var c color.NRGBA
			switch bpp {
			case 3:
				c = color.NRGBA{p[0], p[1], p[2], 255}
			case 4:
				c = color.NRGBA{p[0], p[1], p[2], p[3]}
			default:
				t.Fatalf("%d bytes a pixel", bpp)
			}
			if w := color.NRGBAModel.Convert(want.At(r.Min.X+x, r.Min.Y+y)); c != w {
				t.Fatalf("streamed pixel (%d, %d) %v, want %v", x, y, c, w)
			}
		}
	})
	if err != nil {
		t.Fatalf("DecodeRows: %v", err)
	}
	if img == nil {
		if rows != r.Dy() {
			t.Fatalf("%d rows streamed, want %d", rows, r.Dy())
		}
		return true
	}
	if rows != 0 || img.Bounds() != r {
		t.Fatalf("DecodeRows returned %v after %d rows", img.Bounds(), rows)
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if g, w := color.NRGBA64Model.Convert(img.At(x, y)), color.NRGBA64Model.Convert(want.At(x, y)); g != w {
				t.Fatalf("DecodeRows pixel (%d, %d) %v, want %v", x, y, g, w)
			}
		}
	}
	return false
}

// TestDecodeRows: RGB and RGBA PNGs are streamed, others decoded whole,
// with the pixels Decode gives.
func TestDecodeRows(t *testing.T) {
	rgba := image.NewNRGBA(image.Rect(0, 0, 37, 21))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 13)
	}
	rgb := image.NewRGBA(rgba.Rect)
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i * 7)
		if i%4 == 3 {
			rgb.Pix[i] = 255
		}
	}
	gray := image.NewGray(rgba.Rect)
	pal := image.NewPaletted(rgba.Rect, color.Palette{color.Black, color.White})
	for i, m := range []image.Image{rgba, rgb, gray, pal} {
		var buf bytes.Buffer
		if err := stdpng.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		if streamed := checkRows(t, buf.Bytes(), m); streamed != (i < 2) {
			t.Errorf("%T: streamed %v, want %v", m, streamed, i < 2)
		}
	}
	for _, name := range []string{"grayalpha.png", "interlaced.png"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		checkRows(t, b, want)
	}
}
