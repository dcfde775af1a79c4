package imgproc

import (
	"image"
	"image/color"
)

// rowCompositor writes row y of an image, composited onto an opaque
// background, as RGB triplets into dst (3 bytes a pixel, the whole width).
type rowCompositor func(y int, dst []byte)

// compositor returns a rowCompositor for the source types PNG and GIF
// decode to most often (8-bit NRGBA, RGBA, paletted), or nil for others,
// which take image/draw. Straight alpha is blended as
// (c*a + bg*(255-a)) / 255, rounded.
func compositor(src image.Image, bg color.RGBA) rowCompositor {
	b := src.Bounds()
	w := b.Dx()
	switch m := src.(type) {
	case *image.NRGBA:
		return func(y int, dst []byte) {
			row := m.Pix[(y-b.Min.Y)*m.Stride:][:4*w]
			dst = dst[:3*w]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				d := dst[3*x : 3*x+3 : 3*x+3]
				a := uint32(p[3])
				switch a {
				case 255:
					d[0], d[1], d[2] = p[0], p[1], p[2]
					continue
				case 0: // transparent backdrops
					d[0], d[1], d[2] = bg.R, bg.G, bg.B
					continue
				}
				na := 255 - a
				d[0] = uint8((uint32(p[0])*a + uint32(bg.R)*na + 127) / 255)
				d[1] = uint8((uint32(p[1])*a + uint32(bg.G)*na + 127) / 255)
				d[2] = uint8((uint32(p[2])*a + uint32(bg.B)*na + 127) / 255)
			}
		}
	case *image.RGBA: // premultiplied
		return func(y int, dst []byte) {
			row := m.Pix[(y-b.Min.Y)*m.Stride:][:4*w]
			dst = dst[:3*w]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				d := dst[3*x : 3*x+3 : 3*x+3]
				if p[3] == 255 { // opaque (every pixel of an RGB PNG)
					d[0], d[1], d[2] = p[0], p[1], p[2]
					continue
				}
				na := 255 - uint32(p[3])
				d[0] = uint8(min(255, uint32(p[0])+(uint32(bg.R)*na+127)/255))
				d[1] = uint8(min(255, uint32(p[1])+(uint32(bg.G)*na+127)/255))
				d[2] = uint8(min(255, uint32(p[2])+(uint32(bg.B)*na+127)/255))
			}
		}
	case *image.Paletted:
		var pal [256][3]byte // each entry composited once
		for i, c := range m.Palette {
			r, g, bb, a := c.RGBA() // premultiplied, 16-bit
			na := 0xffff - a
			pal[i] = [3]byte{
				uint8((r + uint32(bg.R)*0x101*na/0xffff) >> 8),
				uint8((g + uint32(bg.G)*0x101*na/0xffff) >> 8),
				uint8((bb + uint32(bg.B)*0x101*na/0xffff) >> 8),
			}
		}
		return func(y int, dst []byte) {
			row := m.Pix[(y-b.Min.Y)*m.Stride:][:w]
			dst = dst[:3*w]
			for x, i := range row {
				p := &pal[i] // an index past the palette (the decoders refuse them) reads black
				d := dst[3*x : 3*x+3 : 3*x+3]
				d[0], d[1], d[2] = p[0], p[1], p[2]
			}
		}
	}
	return nil
}

// compositePlanes is rgbaPlanes(opaqueRGBA(src, bg)) without the RGBA
// copy, for the sources compositor handles (ok false otherwise).
func compositePlanes(src image.Image, bg color.RGBA) (y, cb, cr plane, ok bool) {
	row := compositor(src, bg)
	if row == nil {
		return plane{}, plane{}, plane{}, false
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	yp, cbp, crp := make([]byte, w*h), make([]byte, w*h), make([]byte, w*h)
	rgb := make([]byte, 3*w)
	for j := range h {
		row(b.Min.Y+j, rgb)
		for i := range w {
			p := rgb[3*i : 3*i+3 : 3*i+3]
			yp[j*w+i], cbp[j*w+i], crp[j*w+i] = color.RGBToYCbCr(p[0], p[1], p[2])
		}
	}
	mk := func(p []byte) plane { return plane{pix: p, stride: w, w: w, h: h} }
	return mk(yp), mk(cbp), mk(crp), true
}
