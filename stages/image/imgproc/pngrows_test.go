package imgproc

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	stdpng "image/png"
	"testing"

	"github.com/feedbatch/feedbatch/stages/image/imgproc/internal/jpeg"
)

// TestProcessPNGRows: Process streams 8-bit RGB and RGBA PNGs into the box
// pre-shrink; its output is byte for byte the render of the whole decoded
// image, at pre-shrink factors 1 to 5, odd sizes, with and without alpha
// and enlargement.
func TestProcessPNGRows(t *testing.T) {
	for _, sz := range [][2]int{{80, 80}, {97, 61}, {161, 163}, {250, 90}, {413, 399}, {30, 45}} {
		for _, alpha := range []bool{false, true} {
			for _, noUp := range []bool{false, true} {
				t.Run(fmt.Sprintf("%dx%d/alpha=%v/noupscale=%v", sz[0], sz[1], alpha, noUp), func(t *testing.T) {
					w, h := sz[0], sz[1]
					var src image.Image
					if alpha {
						m := image.NewNRGBA(image.Rect(0, 0, w, h))
						for i := range m.Pix {
							m.Pix[i] = uint8(i*31 + i/7)
							if i%4 == 3 && i%3 == 0 {
								m.Pix[i] = 0
							} else if i%4 == 3 && i%5 == 0 {
								m.Pix[i] = 255
							}
						}
						src = m
					} else {
						m := image.NewRGBA(image.Rect(0, 0, w, h))
						for i := range m.Pix {
							m.Pix[i] = uint8(i*29 + i/11)
							if i%4 == 3 {
								m.Pix[i] = 255
							}
						}
						src = m
					}
					var buf bytes.Buffer
					if err := stdpng.Encode(&buf, src); err != nil {
						t.Fatal(err)
					}
					s := Spec{Width: 80, Height: 60, Quality: 85, Background: color.RGBA{250, 240, 10, 255}, NoUpscale: noUp}
					res, err := Process(buf.Bytes(), s, 0)
					if err != nil {
						t.Fatal(err)
					}
					img, _, err := Decode(buf.Bytes(), 0)
					if err != nil {
						t.Fatal(err)
					}
					want, err := jpeg.EncodeBytes(Render(img, s), &jpeg.Options{Quality: s.Quality})
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(res.JPEG, want) {
						t.Errorf("streamed render differs from the whole image's")
					}
				})
			}
		}
	}
}

// TestProcessPNGTruncated: a PNG whose pixel data stops early is an error.
func TestProcessPNGTruncated(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := stdpng.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if _, err := Process(b[:len(b)/2], defaultSpec(), 0); err == nil {
		t.Fatal("truncated PNG: no error")
	}
}
