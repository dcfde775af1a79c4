// Copyright 2021 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package jpeg

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode decodes hostile input at every scale: no panic, and a decoded
// image has the size DecodeConfig and the scale promise.
//
// The seeds are the small images in testdata/fuzzseed (17x13, under 1 KB),
// not the 150x103 files the other tests read. The fuzzer minimizes every
// input that finds new coverage, and its byte-subset pass is quadratic in
// the input's length: from a 19 KB seed each minimization used its whole
// minute on both workers, and a 20 s run made about 55 counted execs.
func FuzzDecode(f *testing.F) {
	seeds, err := filepath.Glob("testdata/fuzzseed/*.jpeg")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata/fuzzseed: %v", err)
	}
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatalf("failed to read seed: %s", err)
		}
		f.Add(b, uint8(1))
		f.Add(b, uint8(3))
		if !strings.Contains(name, "s444") {
			continue
		}
		// The other subsamplings (4:2:2, 4:4:0, 4:1:1, 4:1:0) by
		// rewriting the luma sampling factors of a 4:4:4 file.
		for _, hv := range []byte{0x21, 0x12, 0x41, 0x42} {
			v := bytes.Clone(b)
			sof := bytes.Index(v, []byte{0xff, sof0Marker})
			if sof < 0 {
				sof = bytes.Index(v, []byte{0xff, sof2Marker})
			}
			if sof < 0 {
				f.Fatalf("%s: no SOF", name)
			}
			v[sof+11] = hv // SOF: marker, length, precision, height, width, count, then Y's id and factors.
			f.Add(v, uint8(0))
		}
	}

	f.Fuzz(func(t *testing.T, b []byte, scaleSel uint8) {
		cfg, err := DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return
		}
		// Decoding cost grows with the pixels a header claims, not with
		// the input's size; keep each exec cheap. The decoder's own
		// limit is the caller's (imgproc's pixel limit).
		if cfg.Width*cfg.Height > 1<<16 {
			return
		}
		scale := 1 << (scaleSel % 4)
		img, err := DecodeScaled(bytes.NewReader(b), scale)
		if err != nil {
			return
		}
		if w, h := (cfg.Width+scale-1)/scale, (cfg.Height+scale-1)/scale; img.Bounds().Dx() != w || img.Bounds().Dy() != h {
			t.Fatalf("scale %d: decoded %v, want %dx%d", scale, img.Bounds(), w, h)
		}
		// Half-resolution chroma: the same size, and the same luma when
		// it decodes (it reads the same scans).
		if hc, err := DecodeScaledHalfChroma(bytes.NewReader(b), scale); err == nil {
			if hc.Bounds() != img.Bounds() {
				t.Fatalf("scale %d: half chroma decoded %v, want %v", scale, hc.Bounds(), img.Bounds())
			}
			if y0, ok := img.(*image.YCbCr); ok {
				y1 := hc.(*image.YCbCr)
				for y := range y0.Rect.Dy() {
					if !bytes.Equal(y0.Y[y*y0.YStride:][:y0.Rect.Dx()], y1.Y[y*y1.YStride:][:y0.Rect.Dx()]) {
						t.Fatalf("scale %d: half chroma luma row %d differs", scale, y)
					}
				}
			}
		}
		if scale != 1 {
			return
		}
		var w bytes.Buffer
		if err := Encode(&w, img, &Options{Quality: 75}); err != nil {
			t.Fatalf("failed to encode valid image: %s", err)
		}
		img1, err := Decode(&w)
		if err != nil {
			t.Fatalf("failed to decode roundtripped image: %s", err)
		}
		if got, want := img1.Bounds(), img.Bounds(); !got.Eq(want) {
			t.Errorf("roundtripped image bounds have changed, got: %s, want: %s", got, want)
		}
	})
}
