package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// generateMixed writes n product shots to dir (existing files are kept):
// sizes from 600x400 to 3000x3000 in the usual aspects, a product-like
// subject (shaded shape, texture, edges, noise) on a light backdrop; 5%
// greyscale JPEG, 10% PNG (half of them with a transparent background),
// the rest 4:2:0 JPEG at quality 80-95. bench/image.sh turns some JPEGs
// progressive with libvips.
func generateMixed(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	aspects := [][2]int{{1, 1}, {1, 1}, {4, 3}, {3, 4}, {3, 2}, {2, 3}, {16, 9}, {3, 2}}
	for i := range n {
		rng := rand.New(rand.NewPCG(uint64(i), 11))
		kind := "jpg"
		switch {
		case i%20 == 7:
			kind = "gray"
		case i%10 == 3:
			kind = "png"
		}
		ext := ".jpg"
		if kind == "png" {
			ext = ".png"
		}
		name := filepath.Join(dir, fmt.Sprintf("mix%03d%s", i, ext))
		if _, err := os.Stat(name); err == nil {
			continue
		}
		a := aspects[rng.IntN(len(aspects))]
		long := 600 + rng.IntN(2401)
		w, h := long, long*a[1]/a[0]
		if a[1] > a[0] {
			w, h = long*a[0]/a[1], long
		}
		w, h = max(w, 600), max(h, 400)
		alpha := kind == "png" && i%20 == 3
		img := productShot(rng, w, h, alpha)
		var buf bytes.Buffer
		var err error
		switch kind {
		case "png":
			err = png.Encode(&buf, img)
		case "gray":
			g := image.NewGray(img.Bounds())
			for j := range g.Pix {
				p := img.Pix[4*j : 4*j+3]
				g.Pix[j] = uint8((299*int(p[0]) + 587*int(p[1]) + 114*int(p[2])) / 1000)
			}
			err = jpeg.Encode(&buf, g, &jpeg.Options{Quality: 80 + rng.IntN(16)})
		default:
			err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80 + rng.IntN(16)})
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// productShot draws a shaded ellipse with a label stripe and fine texture
// on a light, slightly graded backdrop (transparent when alpha).
func productShot(rng *rand.Rand, w, h int, alpha bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	base := [3]float64{40 + rng.Float64()*180, 40 + rng.Float64()*180, 40 + rng.Float64()*180}
	cx, cy := float64(w)*(0.4+0.2*rng.Float64()), float64(h)*(0.4+0.2*rng.Float64())
	rx, ry := float64(w)*(0.25+0.15*rng.Float64()), float64(h)*(0.25+0.15*rng.Float64())
	freq := 0.05 + rng.Float64()*0.3
	for y := range h {
		row := img.Pix[y*img.Stride:]
		dy := (float64(y) - cy) / ry
		for x := range w {
			dx := (float64(x) - cx) / rx
			d := dx*dx + dy*dy
			nz := float64(rng.IntN(9)) - 4
			var c [3]float64
			a := 255.0
			if d < 1 {
				shade := 0.55 + 0.45*math.Sqrt(1-d)*(0.7+0.3*dx)
				tex := 10 * math.Sin(float64(x)*freq) * math.Sin(float64(y)*freq*1.3)
				for k := range c {
					c[k] = base[k]*shade + tex + nz
				}
				if math.Abs(dy) < 0.12 { // label stripe with hard edges
					c = [3]float64{245 + nz, 245 + nz, 240 + nz}
					if (x/6)%3 == 0 && math.Abs(dx) < 0.5 {
						c = [3]float64{20, 20, 30}
					}
				}
			} else {
				g := 245 - 12*float64(y)/float64(h) + nz/2
				c = [3]float64{g, g, g}
				if alpha {
					a = 0
				}
			}
			i := 4 * x
			row[i], row[i+1], row[i+2], row[i+3] = clamp(c[0]), clamp(c[1]), clamp(c[2]), uint8(a)
		}
	}
	return img
}

// runSSIM compares every <name>.jpg of each cmp folder (padded renders)
// with ref/<name>.jpg (unpadded): the padded render is cropped to the
// reference's size, centred. It prints mean and minimum SSIM per folder.
func runSSIM(ref, cmps string) error {
	refs, err := filepath.Glob(filepath.Join(ref, "*.jpg"))
	if err != nil || len(refs) == 0 {
		return fmt.Errorf("no references in %s", ref)
	}
	for _, c := range strings.Split(cmps, ",") {
		name, dir, ok := strings.Cut(c, "=")
		if !ok {
			return fmt.Errorf("-cmp %q: want name=folder", c)
		}
		sum, worst, worstName, n, below := 0.0, 1.0, "", 0, 0
		for _, r := range refs {
			a, err := loadLuma(r)
			if err != nil {
				return err
			}
			b, err := loadLuma(filepath.Join(dir, filepath.Base(r)))
			if err != nil {
				return err
			}
			w, h := a.Rect.Dx(), a.Rect.Dy()
			x0, y0 := (b.Rect.Dx()-w)/2, (b.Rect.Dy()-h)/2
			if x0 < 0 || y0 < 0 {
				return fmt.Errorf("%s: %v larger than %v", r, a.Rect, b.Rect)
			}
			s := ssim(a, b.SubImage(image.Rect(x0, y0, x0+w, y0+h)).(*image.Gray))
			sum += s
			n++
			if s < 0.97 {
				below++
				if os.Getenv("SSIM_VERBOSE") != "" {
					fmt.Printf("  %s %s %.4f\n", name, filepath.Base(r), s)
				}
			}
			if s < worst {
				worst, worstName = s, filepath.Base(r)
			}
		}
		fmt.Printf("SSIM %-6s vs libvips: mean %.4f, min %.4f (%s), %d of %d images below 0.97\n", name, sum/float64(n), worst, worstName, below, n)
	}
	return nil
}

func loadLuma(name string) (*image.Gray, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			g.SetGray(x, y, color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray))
		}
	}
	return g, nil
}

// ssim is the mean structural similarity of two equally sized luma images
// over 8x8 windows every 4 pixels (Wang et al. 2004, uniform window).
func ssim(a, b *image.Gray) float64 {
	const c1, c2 = (0.01 * 255) * (0.01 * 255), (0.03 * 255) * (0.03 * 255)
	w, h := a.Rect.Dx(), a.Rect.Dy()
	var total float64
	var n int
	for y := 0; y+8 <= h; y += 4 {
		for x := 0; x+8 <= w; x += 4 {
			var sa, sb, saa, sbb, sab float64
			for j := range 8 {
				for i := range 8 {
					va := float64(a.GrayAt(a.Rect.Min.X+x+i, a.Rect.Min.Y+y+j).Y)
					vb := float64(b.GrayAt(b.Rect.Min.X+x+i, b.Rect.Min.Y+y+j).Y)
					sa, sb, saa, sbb, sab = sa+va, sb+vb, saa+va*va, sbb+vb*vb, sab+va*vb
				}
			}
			ma, mb := sa/64, sb/64
			va, vb, cov := saa/64-ma*ma, sbb/64-mb*mb, sab/64-ma*mb
			total += ((2*ma*mb + c1) * (2*cov + c2)) / ((ma*ma + mb*mb + c1) * (va + vb + c2))
			n++
		}
	}
	return total / float64(max(n, 1))
}
