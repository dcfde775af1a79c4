package imgproc

import (
	"bytes"
	"fmt"
	"image"
	"image/color"

	"github.com/feedbatch/feedbatch/stages/image/imgproc/internal/png"
)

// decodePNG decodes a PNG for Process. An 8-bit RGB or RGBA image
// (non-interlaced) is never held at full size: each row, as it is
// inflated, is composited onto the background and box-averaged into the
// pre-shrunk image render would make of it (or, when there is nothing to
// pre-shrink, converted into the Y, Cb and Cr planes), the same values
// render computes from the full image; r is then the rectangle of the box
// the result fills (pass both to renderFit). Other PNGs come back whole,
// with an empty r (pass them to render).
func decodePNG(b []byte, cfg image.Config, s Spec) (img image.Image, r image.Rectangle, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("%w: %s decoder panic: %v", ErrDecode, PNG, p)
		}
	}()
	sw, sh := cfg.Width, cfg.Height
	fit := s.Fit(sw, sh)
	k := max(1, min(sw/fit.Dx(), sh/fit.Dy()))
	rs := newRowShrinker(sw, sh, k, s.Background)
	img, err = png.DecodeRows(bytes.NewReader(b), rs.row)
	if err != nil {
		return nil, image.Rectangle{}, fmt.Errorf("%w: %s: %v", ErrDecode, PNG, err)
	}
	if img == nil {
		if rs.rows != sh {
			return nil, image.Rectangle{}, fmt.Errorf("%w: %s: %d rows decoded, header said %d", ErrDecode, PNG, rs.rows, sh)
		}
		return rs.dst, fit, nil
	}
	if bb := img.Bounds(); bb.Dx() != sw || bb.Dy() != sh {
		return nil, image.Rectangle{}, fmt.Errorf("%w: %s decoded %v, header said %dx%d", ErrDecode, PNG, bb, sw, sh)
	}
	return img, image.Rectangle{}, nil
}

// rowShrinker turns streamed rows into a 4:4:4 YCbCr image of
// ceil(sw/k) x ceil(sh/k): boxShrink's averages (k >= 2) or the
// composited pixels (k == 1), converted as compositePlanes converts them.
type rowShrinker struct {
	sw, sh, k int
	bg        color.RGBA
	dst       *image.YCbCr // allocated at the first row
	rgb       []byte       // a composited row
	acc       []uint32     // RGB sums per output column (k >= 2)
	blk       []int32      // output column of each source column, times 3
	rows      int          // rows received
}

func newRowShrinker(sw, sh, k int, bg color.RGBA) *rowShrinker {
	return &rowShrinker{sw: sw, sh: sh, k: k, bg: bg}
}

func (s *rowShrinker) row(y int, row []byte, bpp int) {
	if y != s.rows || len(row) != bpp*s.sw {
		panic("png row out of order or of the wrong size")
	}
	s.rows++
	sw, k := s.sw, s.k
	if s.dst == nil {
		dw, dh := (sw+k-1)/k, (s.sh+k-1)/k
		s.dst = image.NewYCbCr(image.Rect(0, 0, dw, dh), image.YCbCrSubsampleRatio444)
		if bpp == 4 {
			s.rgb = make([]byte, 3*sw)
		}
		if k >= 2 {
			s.acc = make([]uint32, 3*dw)
			s.blk = make([]int32, sw)
			for x := range sw {
				s.blk[x] = int32(x / k * 3)
			}
		}
	}
	rgb := row
	if bpp == 4 {
		rgb = s.rgb
		compositeNRGBARow(rgb, row, s.bg)
	}
	d := s.dst
	if k == 1 {
		yr, cbr, crr := d.Y[y*d.YStride:][:sw], d.Cb[y*d.CStride:][:sw], d.Cr[y*d.CStride:][:sw]
		for x := range sw {
			p := rgb[3*x : 3*x+3 : 3*x+3]
			yr[x], cbr[x], crr[x] = color.RGBToYCbCr(p[0], p[1], p[2])
		}
		return
	}
	acc := s.acc
	for x, i := range s.blk {
		p := rgb[3*x : 3*x+3 : 3*x+3]
		a := acc[i : i+3 : i+3]
		a[0] += uint32(p[0])
		a[1] += uint32(p[1])
		a[2] += uint32(p[2])
	}
	if y%k != k-1 && y != s.sh-1 {
		return
	}
	// The band of rows is complete: store its averages (boxStore's
	// rounding), converted to YCbCr.
	dy := y / k
	rows := y - dy*k + 1
	yr, cbr, crr := d.Y[dy*d.YStride:], d.Cb[dy*d.CStride:], d.Cr[dy*d.CStride:]
	for dx := range d.Rect.Dx() {
		n := uint32(min(k, sw-dx*k) * rows)
		i := dx * 3
		r := uint8((acc[i] + n/2) / n)
		g := uint8((acc[i+1] + n/2) / n)
		b := uint8((acc[i+2] + n/2) / n)
		yr[dx], cbr[dx], crr[dx] = color.RGBToYCbCr(r, g, b)
	}
	clear(acc)
}

// compositeNRGBARow composites a row of straight-alpha RGBA pixels onto
// bg as RGB, as compositor does for *image.NRGBA.
func compositeNRGBARow(dst, row []byte, bg color.RGBA) {
	w := len(row) / 4
	dst = dst[:3*w]
	for x := range w {
		p := row[4*x : 4*x+4 : 4*x+4]
		d := dst[3*x : 3*x+3 : 3*x+3]
		a := uint32(p[3])
		switch a {
		case 255:
			d[0], d[1], d[2] = p[0], p[1], p[2]
			continue
		case 0:
			d[0], d[1], d[2] = bg.R, bg.G, bg.B
			continue
		}
		na := 255 - a
		d[0] = uint8((uint32(p[0])*a + uint32(bg.R)*na + 127) / 255)
		d[1] = uint8((uint32(p[1])*a + uint32(bg.G)*na + 127) / 255)
		d[2] = uint8((uint32(p[2])*a + uint32(bg.B)*na + 127) / 255)
	}
}
