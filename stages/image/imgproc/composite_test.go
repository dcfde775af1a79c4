package imgproc

import (
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"testing"
)

// TestCompositor checks the row compositor against image/draw's Over onto
// the background, within 1 of rounding.
func TestCompositor(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := image.Rect(3, 5, 40, 30)
	nrgba := image.NewNRGBA(r)
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(rng.IntN(256))
	}
	rgba := image.NewRGBA(r)
	draw.Draw(rgba, r, nrgba, r.Min, draw.Src) // premultiplied
	pal := make(color.Palette, 200)
	for i := range pal {
		pal[i] = color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256))}
	}
	paletted := image.NewPaletted(r, pal)
	for i := range paletted.Pix {
		paletted.Pix[i] = uint8(rng.IntN(len(pal)))
	}
	bg := color.RGBA{250, 128, 3, 255}
	for name, src := range map[string]image.Image{"nrgba": nrgba, "rgba": rgba, "paletted": paletted} {
		t.Run(name, func(t *testing.T) {
			want := image.NewRGBA(r)
			draw.Draw(want, r, image.NewUniform(bg), image.Point{}, draw.Src)
			draw.Draw(want, r, src, r.Min, draw.Over)
			row := compositor(src, bg)
			if row == nil {
				t.Fatal("no compositor")
			}
			rgb := make([]byte, 3*r.Dx())
			for y := r.Min.Y; y < r.Max.Y; y++ {
				row(y, rgb)
				for x := range r.Dx() {
					w := want.RGBAAt(r.Min.X+x, y)
					got := color.RGBA{rgb[3*x], rgb[3*x+1], rgb[3*x+2], 255}
					if !near(got, w, 1) {
						t.Fatalf("(%d, %d): %v, draw.Over %v", r.Min.X+x, y, got, w)
					}
				}
			}
		})
	}
}
