// Package imgproc turns the bytes of one product image into the
// platform-ready JPEG: sniff the format from magic bytes, check the pixel
// count from the header before decoding (decompression bombs are refused
// without allocating), decode, composite transparency onto the background,
// resize preserving the aspect ratio, pad (letterbox) to the exact size of the
// spec and encode as JPEG.
//
// Everything here is pure Go and deterministic: the same input bytes and Spec
// give byte-identical output.
package imgproc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"sync"

	"io"
	"net/http"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/feedbatch/feedbatch/stages/image/imgproc/internal/jpeg"
	"github.com/feedbatch/feedbatch/stages/image/imgproc/internal/png"
)

// Version names the processing algorithm. It is part of every output's
// content address: changing how pixels are produced must change it.
const Version = "5"

// DefaultMaxPixels is the largest source accepted (Google's 64 megapixels).
const DefaultMaxPixels = 64 << 20

// Errors are checked with errors.Is. Each maps to a drop reason.
var (
	// ErrNotAnImage: the bytes are not a supported image format.
	ErrNotAnImage = errors.New("imgproc: not an image")
	// ErrPixelLimit: the header declares more pixels than allowed.
	ErrPixelLimit = errors.New("imgproc: pixel limit exceeded")
	// ErrDecode: the image is corrupt or truncated.
	ErrDecode = errors.New("imgproc: decode error")
)

// Format is a source image format, found by its magic bytes.
type Format string

// Supported formats. Google accepts JPEG, WebP, PNG, GIF, BMP and TIFF.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	GIF  Format = "gif"
	WebP Format = "webp"
	BMP  Format = "bmp"
	TIFF Format = "tiff"
)

// Sniff names the format of b from its first bytes; file names and
// Content-Type headers are never trusted. It returns "" for anything else
// (HTML error pages, SVG, AVIF, ...).
func Sniff(b []byte) Format {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return JPEG
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return GIF
	case len(b) >= 16 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP" &&
		(string(b[12:16]) == "VP8 " || string(b[12:16]) == "VP8L" || string(b[12:16]) == "VP8X"):
		return WebP
	case len(b) >= 14 && b[0] == 'B' && b[1] == 'M':
		return BMP
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return TIFF
	}
	return ""
}

func decoders(f Format) (cfg func(io.Reader) (image.Config, error), dec func(io.Reader) (image.Image, error)) {
	switch f {
	case JPEG:
		return jpeg.DecodeConfig, jpeg.Decode
	case PNG:
		return png.DecodeConfig, png.Decode
	case GIF:
		return gif.DecodeConfig, gif.Decode // first frame only
	case WebP:
		return webp.DecodeConfig, webp.Decode
	case BMP:
		return bmp.DecodeConfig, bmp.Decode
	case TIFF:
		return tiff.DecodeConfig, tiff.Decode
	}
	return nil, nil
}

// Config sniffs b and reads only its header: format and dimensions. It
// returns ErrNotAnImage, ErrDecode for an unreadable header, or ErrPixelLimit
// when width*height exceeds maxPixels (<= 0: DefaultMaxPixels).
func Config(b []byte, maxPixels int64) (Format, image.Config, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	f := Sniff(b)
	cfgFn, _ := decoders(f)
	if cfgFn == nil {
		// Name what it looks like (an HTML error page, SVG, AVIF...) for the log.
		return "", image.Config{}, fmt.Errorf("%w (content looks like %s)", ErrNotAnImage, http.DetectContentType(b))
	}
	cfg, err := cfgFn(bytes.NewReader(b))
	if err != nil {
		return f, cfg, fmt.Errorf("%w: %s header: %v", ErrDecode, f, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return f, cfg, fmt.Errorf("%w: %s has size %dx%d", ErrDecode, f, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return f, cfg, fmt.Errorf("%w: %s is %dx%d (%d pixels, limit %d)", ErrPixelLimit, f, cfg.Width, cfg.Height, px, maxPixels)
	}
	return f, cfg, nil
}

// MemoryEstimate is roughly how many bytes decoding and rendering an image
// with this header takes: the decoded pixels at the colour model's size
// (JPEGs at their reduced decode size, see JPEGScale; progressive JPEGs
// also keep the coefficients that size needs for every block), the RGBA
// copy and planes of
// non-YCbCr sources, and the canvas and resize buffers, which scale with
// the output.
func MemoryEstimate(cfg image.Config, f Format, s Spec) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	var bpp int64
	switch cfg.ColorModel {
	case color.RGBA64Model, color.NRGBA64Model:
		bpp = 8
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel:
		bpp = 4
	case color.Gray16Model:
		bpp = 2
	case color.GrayModel:
		bpp = 1
	default: // YCbCr (up to 4:4:4), paletted, ...
		bpp = 3
	}
	out := int64(s.Width) * int64(s.Height)
	render := out * 4 // canvas (1.5) and resize rows
	if f == JPEG {
		// The orientation is not known here: take the smaller scale.
		sc := int64(min(JPEGScale(cfg.Width, cfg.Height, s), JPEGScale(cfg.Height, cfg.Width, s)))
		// Progressive: the coefficients kept between scans (see the jpeg
		// package's coeffStore), for up to 3 full-size planes: 64/sc² int16
		// a block, plus a 64-bit non-zero mask when sc > 1.
		perBlock := 128 / (sc * sc)
		if sc > 1 {
			perBlock += 8
		}
		return px*3*perBlock/64 + px/(sc*sc)*(bpp+7) + render
	}
	// RGBA copy and Y/Cb/Cr planes, of the source or of its box pre-shrink.
	return px*(bpp+7) + render
}

// Decode checks the header with Config and only then decodes the image.
// Decoder panics (on hostile input) are turned into ErrDecode.
func Decode(b []byte, maxPixels int64) (image.Image, Format, error) {
	f, cfg, err := Config(b, maxPixels)
	if err != nil {
		return nil, f, err
	}
	img, err := decode(b, f, cfg, 1, false)
	return img, f, err
}

// decode decodes b, whose header Config read as f and cfg, at 1/scale of
// its size (JPEG only; other formats take 1). With halfChroma a 4:4:4 JPEG
// comes back 4:2:0, its chroma reduced by the inverse DCT (for a 4:2:0
// output, see jpeg.DecodeScaledHalfChroma).
func decode(b []byte, f Format, cfg image.Config, scale int, halfChroma bool) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%w: %s decoder panic: %v", ErrDecode, f, r)
		}
	}()
	if f == JPEG {
		if halfChroma {
			img, err = jpeg.DecodeScaledHalfChroma(bytes.NewReader(b), scale)
		} else {
			img, err = jpeg.DecodeScaled(bytes.NewReader(b), scale)
		}
	} else {
		_, dec := decoders(f)
		img, err = dec(bytes.NewReader(b))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDecode, f, err)
	}
	// The decoded size must be the one the header declared (the limit was
	// checked against the header).
	w, h := (cfg.Width+scale-1)/scale, (cfg.Height+scale-1)/scale
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		if int64(b.Dx())*int64(b.Dy()) > int64(w)*int64(h) || b.Empty() {
			return nil, fmt.Errorf("%w: %s decoded %v, header said %dx%d", ErrDecode, f, b, cfg.Width, cfg.Height)
		}
	}
	return img, nil
}

// Spec is the output an image is turned into.
type Spec struct {
	Width, Height int
	Quality       int        // JPEG quality 1..100
	Background    color.RGBA // opaque padding and transparency colour
	// NoUpscale keeps sources smaller than the box at their own size
	// (centred on the padding) instead of enlarging them to fit.
	NoUpscale bool
}

// ParseBackground reads a hex RGB colour ("ffffff", "#FFF"). "" is white.
func ParseBackground(s string) (color.RGBA, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if s == "" {
		return color.RGBA{255, 255, 255, 255}, nil
	}
	if len(s) == 3 {
		s = string([]byte{s[0], s[0], s[1], s[1], s[2], s[2]})
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 3 {
		return color.RGBA{}, fmt.Errorf("background %q: want hex RGB like ffffff", s)
	}
	return color.RGBA{b[0], b[1], b[2], 255}, nil
}

// MaxSide is the largest output side accepted. Platforms recommend at most
// 1500 (Google) or 1024 (Meta); the resize buffers grow with the output
// (about 64 bytes per output pixel), so the limit also bounds memory.
const MaxSide = 3000

// Validate reports a spec that cannot be produced.
func (s Spec) Validate() error {
	if s.Width < 1 || s.Height < 1 || s.Width > MaxSide || s.Height > MaxSide {
		return fmt.Errorf("image size %dx%d: want 1..%d each", s.Width, s.Height, MaxSide)
	}
	if s.Quality < 1 || s.Quality > 100 {
		return fmt.Errorf("image quality %d: want 1..100", s.Quality)
	}
	return nil
}

// String is the canonical form of the spec, part of every output's content
// address: "800x800-q85-ffffff-v1" (plus "-noup" when NoUpscale).
func (s Spec) String() string {
	str := fmt.Sprintf("%dx%d-q%d-%02x%02x%02x-v%s", s.Width, s.Height, s.Quality, s.Background.R, s.Background.G, s.Background.B, Version)
	if s.NoUpscale {
		str += "-noup"
	}
	return str
}

// Fit returns the rectangle inside the spec's box that an image of size w x h
// is drawn into: aspect ratio preserved, centred, never larger than the box.
func (s Spec) Fit(w, h int) image.Rectangle {
	dw, dh := s.Width, s.Height
	// Scale by the smaller ratio; integer arithmetic keeps it deterministic.
	if int64(w)*int64(s.Height) > int64(h)*int64(s.Width) {
		dh = int((int64(h)*int64(s.Width) + int64(w)/2) / int64(w))
	} else {
		dw = int((int64(w)*int64(s.Height) + int64(h)/2) / int64(h))
	}
	if s.NoUpscale && w <= s.Width && h <= s.Height {
		dw, dh = w, h
	}
	dw, dh = max(dw, 1), max(dh, 1)
	x0, y0 := (s.Width-dw)/2, (s.Height-dh)/2
	return image.Rect(x0, y0, x0+dw, y0+dh)
}

// Render draws src onto an opaque canvas of the spec's size: background,
// then the image resized into Fit, alpha composited onto the background.
// The canvas is 4:2:0 YCbCr, what the JPEG encoder writes.
//
// Pipeline (chosen by BenchmarkResize, TestKernelQuality and the SSIM
// check of bench/image.sh against libvips): JPEGs are decoded by Process
// at 1/2, 1/4 or 1/8 of their size when that still covers the box (a
// reduced inverse DCT, see internal/jpeg; progressive ones too); other
// sources at least twice the box are shrunk by an integer box average (on
// the Y/Cb/Cr planes for YCbCr sources; NRGBA, RGBA and paletted sources
// composited onto the background row by row on the way in); then a
// separable Catmull-Rom filter with precomputed fixed-point weights
// resamples the Y, Cb and Cr planes straight into the canvas planes, on
// pixel centres when reducing and on libvips' grid when enlarging (see
// gridShift). RGB sources are converted to planes once, at the reduced
// size.
func Render(src image.Image, s Spec) *image.YCbCr {
	return render(src, s, 1, image.NewYCbCr(image.Rect(0, 0, s.Width, s.Height), image.YCbCrSubsampleRatio420))
}

// canvasPool keeps Process's canvases (4:2:0, of the last sizes used)
// between images: with the resample buffer, the largest allocations of a
// JPEG's render, and what sets how often the garbage collector runs.
var canvasPool sync.Pool

// getCanvas is a canvas of the spec's size, from canvasPool when one fits.
// Its pixels are stale: render paints all of them.
func getCanvas(s Spec) *image.YCbCr {
	r := image.Rect(0, 0, s.Width, s.Height)
	if c, ok := canvasPool.Get().(*image.YCbCr); ok && c.Rect == r {
		return c
	}
	return image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
}

// render is Render for a source stored with EXIF orientation o (see
// Orientation): the image is turned upright after the box pre-shrink, when
// it is small.
func render(src image.Image, s Spec, o int, canvas *image.YCbCr) *image.YCbCr {
	sb := src.Bounds()
	w, h := sb.Dx(), sb.Dy()
	if swapsAxes(o) {
		w, h = h, w
	}
	r := s.Fit(w, h)
	if k := min(w/r.Dx(), h/r.Dy()); k >= 2 {
		if y, ok := src.(*image.YCbCr); ok && y.Rect.Min == (image.Point{}) && chromaStep(y.SubsampleRatio) != (image.Point{}) {
			src = boxShrinkYCbCr(y, k) // average the planes, convert only the small image
		} else {
			src = boxShrink(src, k, s.Background)
		}
	}
	if o > 1 {
		src = orient(src, o)
	}
	return renderFit(src, s, r, canvas)
}

// renderFit draws src (upright, already box-shrunk) into r of the canvas,
// the rest of which is the background.
func renderFit(src image.Image, s Spec, r image.Rectangle, canvas *image.YCbCr) *image.YCbCr {
	bg := bgYCbCr(s.Background)
	fillOutside(canvas, r, bg) // renderPlanes writes the rest
	sb := src.Bounds()
	var yp, cbp, crp plane
	var step image.Point
	switch m := src.(type) {
	case *image.YCbCr:
		if step = chromaStep(m.SubsampleRatio); step != (image.Point{}) && m.Rect.Min == (image.Point{}) {
			cw, ch := (sb.Dx()+step.X-1)/step.X, (sb.Dy()+step.Y-1)/step.Y
			yp = plane{pix: m.Y, stride: m.YStride, w: sb.Dx(), h: sb.Dy()}
			cbp = plane{pix: m.Cb, stride: m.CStride, w: cw, h: ch}
			crp = plane{pix: m.Cr, stride: m.CStride, w: cw, h: ch}
		}
	case *image.Gray:
		if m.Rect.Min == (image.Point{}) {
			// Neutral chroma: a single sample stretched over the image.
			yp = plane{pix: m.Pix, stride: m.Stride, w: sb.Dx(), h: sb.Dy()}
			cbp = plane{pix: []byte{128}, stride: 1, w: 1, h: 1}
			crp = cbp
			step = image.Pt(sb.Dx(), sb.Dy())
		}
	}
	if yp.pix == nil {
		var ok bool
		if yp, cbp, crp, ok = compositePlanes(src, s.Background); !ok {
			yp, cbp, crp = rgbaPlanes(opaqueRGBA(src, s.Background))
		}
		step = image.Pt(1, 1)
	}
	if step == image.Pt(1, 1) && yp.w >= r.Dx() && yp.h >= r.Dy() && yp.w >= 2 && yp.h >= 2 {
		// 4:4:4 planes, reduced: the 4:2:0 canvas needs no more than half
		// their chroma resolution, and the halved planes take a quarter
		// of the chroma filtering.
		cbp, crp, step = halvePlane(cbp), halvePlane(crp), image.Pt(2, 2)
	}
	renderPlanes(canvas, r, yp, cbp, crp, step, bg)
	return canvas
}

// opaqueRGBA is src composited onto bg, as an RGBA image at the origin.
func opaqueRGBA(src image.Image, bg color.RGBA) *image.RGBA {
	sb := src.Bounds()
	if m, ok := src.(*image.RGBA); ok && sb.Min == (image.Point{}) && m.Opaque() {
		return m
	}
	out := image.NewRGBA(image.Rect(0, 0, sb.Dx(), sb.Dy()))
	op := draw.Over
	if o, ok := src.(interface{ Opaque() bool }); ok && o.Opaque() {
		op = draw.Src // same pixels, no blending arithmetic
	} else {
		draw.Draw(out, out.Bounds(), image.NewUniform(bg), image.Point{}, draw.Src)
	}
	draw.Draw(out, out.Bounds(), src, sb.Min, op)
	return out
}

// boxShrink averages k x k blocks of src (edge blocks average what they
// have), compositing onto bg, into a new opaque RGBA. It converts one band
// of k source rows at a time, so memory is the output plus one band.
func boxShrink(src image.Image, k int, bg color.RGBA) *image.RGBA {
	sb := src.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	dw, dh := (sw+k-1)/k, (sh+k-1)/k
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	acc := make([]uint32, dw*3)
	if row := compositor(src, bg); row != nil { // one composited row at a time, no band copy
		rgb := make([]byte, 3*sw)
		blk := make([]int32, sw) // output column of each source column, times 3
		for x := range sw {
			blk[x] = int32(x / k * 3)
		}
		for dy := range dh {
			y0 := sb.Min.Y + dy*k
			rows := min(k, sb.Max.Y-y0)
			clear(acc)
			for y := range rows {
				row(y0+y, rgb)
				for x, i := range blk {
					p := rgb[3*x : 3*x+3 : 3*x+3]
					a := acc[i : i+3 : i+3]
					a[0] += uint32(p[0])
					a[1] += uint32(p[1])
					a[2] += uint32(p[2])
				}
			}
			boxStore(dst, dy, acc, k, rows, sw)
		}
		return dst
	}
	band := image.NewRGBA(image.Rect(0, 0, sw, k))
	bgU := image.NewUniform(bg)
	for dy := 0; dy < dh; dy++ {
		y0 := sb.Min.Y + dy*k
		rows := min(k, sb.Max.Y-y0)
		br := image.Rect(0, 0, sw, rows)
		draw.Draw(band, br, bgU, image.Point{}, draw.Src)
		draw.Draw(band, br, src, image.Pt(sb.Min.X, y0), draw.Over)
		clear(acc)
		for y := range rows {
			row := band.Pix[y*band.Stride : y*band.Stride+sw*4]
			for x := 0; x < sw; x++ {
				i := (x / k) * 3
				p := row[x*4 : x*4+3 : x*4+3]
				acc[i] += uint32(p[0])
				acc[i+1] += uint32(p[1])
				acc[i+2] += uint32(p[2])
			}
		}
		boxStore(dst, dy, acc, k, rows, sw)
	}
	return dst
}

// boxStore writes output row dy of boxShrink: the sums in acc (RGB per
// output column) over rows source rows, divided by each block's size.
func boxStore(dst *image.RGBA, dy int, acc []uint32, k, rows, sw int) {
	out := dst.Pix[dy*dst.Stride:]
	for dx := range dst.Rect.Dx() {
		cols := min(k, sw-dx*k)
		n := uint32(cols * rows)
		i := dx * 3
		out[dx*4] = uint8((acc[i] + n/2) / n)
		out[dx*4+1] = uint8((acc[i+1] + n/2) / n)
		out[dx*4+2] = uint8((acc[i+2] + n/2) / n)
		out[dx*4+3] = 255
	}
}

// chromaStep is how many luma samples one chroma sample spans; zero for
// ratios boxShrinkYCbCr does not handle.
func chromaStep(r image.YCbCrSubsampleRatio) image.Point {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return image.Pt(1, 1)
	case image.YCbCrSubsampleRatio422:
		return image.Pt(2, 1)
	case image.YCbCrSubsampleRatio420:
		return image.Pt(2, 2)
	case image.YCbCrSubsampleRatio440:
		return image.Pt(1, 2)
	case image.YCbCrSubsampleRatio411:
		return image.Pt(4, 1)
	case image.YCbCrSubsampleRatio410:
		return image.Pt(4, 2)
	}
	return image.Point{}
}

// boxShrinkYCbCr is boxShrink for decoded JPEGs (origin at 0,0): it
// averages k x k blocks of the Y, Cb and Cr planes (each luma pixel counting
// its own chroma sample) into a 4:4:4 YCbCr image. YCbCr is an affine
// function of RGB, so this equals averaging RGB up to rounding, without
// converting the full-size image.
func boxShrinkYCbCr(src *image.YCbCr, k int) *image.YCbCr {
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := (sw+k-1)/k, (sh+k-1)/k
	dst := image.NewYCbCr(image.Rect(0, 0, dw, dh), image.YCbCrSubsampleRatio444)
	step := chromaStep(src.SubsampleRatio)
	blk := make([]int32, sw) // output column of each source column
	cxs := make([]int32, sw) // chroma column of each source column
	for x := range sw {
		blk[x], cxs[x] = int32(x/k), int32(x/step.X)
	}
	acc := make([]uint32, 3*dw)
	for dy := range dh {
		y0, y1 := dy*k, min(dy*k+k, sh)
		clear(acc)
		for y := y0; y < y1; y++ {
			yRow := src.Y[y*src.YStride : y*src.YStride+sw]
			c0 := (y / step.Y) * src.CStride
			cbRow, crRow := src.Cb[c0:], src.Cr[c0:]
			for x, v := range yRow {
				i, c := 3*blk[x], cxs[x]
				acc[i] += uint32(v)
				acc[i+1] += uint32(cbRow[c])
				acc[i+2] += uint32(crRow[c])
			}
		}
		rows := uint32(y1 - y0)
		for dx := range dw {
			n := rows * uint32(min(k, sw-dx*k))
			yi, ci := dy*dst.YStride+dx, dy*dst.CStride+dx
			dst.Y[yi] = uint8((acc[3*dx] + n/2) / n)
			dst.Cb[ci] = uint8((acc[3*dx+1] + n/2) / n)
			dst.Cr[ci] = uint8((acc[3*dx+2] + n/2) / n)
		}
	}
	return dst
}

// Encode writes img as a baseline 4:2:0 JPEG at quality q. The encoder
// (Go's, with a plane path for 4:2:0 images) is deterministic and writes
// no metadata.
func Encode(w io.Writer, img image.Image, q int) error {
	return jpeg.Encode(w, img, &jpeg.Options{Quality: q})
}

// Result describes one processed image.
type Result struct {
	Format Format
	// SourceWidth and SourceHeight are the source's upright size (after
	// its EXIF orientation).
	SourceWidth   int
	SourceHeight  int
	Width, Height int
	JPEG          []byte
}

// Process is Decode, Render and Encode in one call. A JPEG is decoded at
// the smallest of 1/1, 1/2, 1/4 and 1/8 of its size that still covers the
// box (see JPEGScale), so a 2000x2000 photo for an 800x800 box is decoded
// at 1000x1000, with a quarter of the inverse DCT work and memory.
func Process(b []byte, s Spec, maxPixels int64) (Result, error) {
	f, cfg, err := Config(b, maxPixels)
	if err != nil {
		return Result{Format: f}, err
	}
	o := 1
	if f == JPEG {
		o = Orientation(b)
	}
	w, h := cfg.Width, cfg.Height
	if swapsAxes(o) {
		w, h = h, w
	}
	scale := 1
	if f == JPEG {
		scale = JPEGScale(w, h, s)
	}
	// The output is 4:2:0: unless the image is enlarged, its chroma needs
	// at most half the decoded resolution, so a 4:4:4 JPEG's chroma is
	// decoded at half the luma's.
	var out *image.YCbCr
	if f == PNG {
		// Rows straight into the box pre-shrink (or the planes): no
		// full-size image for 8-bit RGB and RGBA PNGs.
		img, r, err := decodePNG(b, cfg, s)
		if err != nil {
			return Result{Format: f}, err
		}
		if r.Empty() {
			out = render(img, s, o, getCanvas(s))
		} else {
			out = renderFit(img, s, r, getCanvas(s))
		}
	} else {
		img, err := decode(b, f, cfg, scale, f == JPEG && s.Fit(w, h).Dx() <= w)
		if err != nil {
			return Result{Format: f}, err
		}
		out = render(img, s, o, getCanvas(s))
	}
	enc, err := jpeg.EncodeBytes(out, &jpeg.Options{Quality: s.Quality})
	canvasPool.Put(out)
	if err != nil {
		return Result{Format: f}, fmt.Errorf("encode jpeg: %w", err)
	}
	return Result{Format: f, SourceWidth: w, SourceHeight: h, Width: s.Width, Height: s.Height, JPEG: enc}, nil
}

// JPEGScale is the largest of 1, 2, 4 and 8 by which a w x h (upright)
// JPEG can be divided while still covering the image's rectangle in the
// box, so the remaining resize only ever shrinks, by less than 2 (unless
// the source is more than 16 times the box).
func JPEGScale(w, h int, s Spec) int {
	r := s.Fit(w, h)
	scale := 1
	for _, c := range []int{2, 4, 8} {
		if (w+c-1)/c >= r.Dx() && (h+c-1)/c >= r.Dy() {
			scale = c
		}
	}
	return scale
}
