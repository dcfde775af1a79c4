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
	rgb       []byte       // a composited row (RGBA, k == 1)
	acc       []uint32     // RGB sums per output column (k >= 2)
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
		if bpp == 4 && k == 1 {
			s.rgb = make([]byte, 3*sw)
		}
		if k >= 2 {
			s.acc = make([]uint32, 3*dw)
		}
	}
	d := s.dst
	if k >= 2 && bpp == 3 {
		s.accumulateRGB(row)
	} else if k >= 2 {
		s.accumulateNRGBA(row)
	}
	rgb := row
	if k == 1 && bpp == 4 {
		rgb = s.rgb
		compositeNRGBARow(rgb, row, s.bg)
	}
	if k == 1 {
		yr, cbr, crr := d.Y[y*d.YStride:][:sw], d.Cb[y*d.CStride:][:sw], d.Cr[y*d.CStride:][:sw]
		for x := range sw {
			p := rgb[3*x : 3*x+3 : 3*x+3]
			yr[x], cbr[x], crr[x] = color.RGBToYCbCr(p[0], p[1], p[2])
		}
		return
	}
	acc := s.acc
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

// accumulateRGB adds an RGB row to the sums of its output columns, k
// pixels at a time in registers.
func (s *rowShrinker) accumulateRGB(row []byte) {
	k, sw := s.k, s.sw
	acc := s.acc
	for dx := 0; dx < len(acc)/3; dx++ {
		x0, x1 := dx*k, min(dx*k+k, sw)
		p := row[3*x0 : 3*x1]
		var r, g, b uint32
		for i := 0; i+3 <= len(p); i += 3 {
			q := p[i : i+3 : i+3]
			r += uint32(q[0])
			g += uint32(q[1])
			b += uint32(q[2])
		}
		a := acc[3*dx : 3*dx+3 : 3*dx+3]
		a[0] += r
		a[1] += g
		a[2] += b
	}
}

// accumulateNRGBA is accumulateRGB for straight-alpha RGBA pixels,
// composited onto the background as compositeNRGBARow does.
func (s *rowShrinker) accumulateNRGBA(row []byte) {
	k, sw := s.k, s.sw
	acc := s.acc
	bR, bG, bB := uint32(s.bg.R), uint32(s.bg.G), uint32(s.bg.B)
	for dx := 0; dx < len(acc)/3; dx++ {
		x0, x1 := dx*k, min(dx*k+k, sw)
		p := row[4*x0 : 4*x1]
		var r, g, b uint32
		for i := 0; i+4 <= len(p); i += 4 {
			q := p[i : i+4 : i+4]
			switch a := uint32(q[3]); a {
			case 255:
				r += uint32(q[0])
				g += uint32(q[1])
				b += uint32(q[2])
			case 0:
				r += bR
				g += bG
				b += bB
			default:
				na := 255 - a
				r += (uint32(q[0])*a + bR*na + 127) / 255
				g += (uint32(q[1])*a + bG*na + 127) / 255
				b += (uint32(q[2])*a + bB*na + 127) / 255
			}
		}
		a := acc[3*dx : 3*dx+3 : 3*dx+3]
		a[0] += r
		a[1] += g
		a[2] += b
	}
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
