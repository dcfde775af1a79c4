package png

import (
	"bytes"
	"image"
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
	})
}
