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
func FuzzDecode(f *testing.F) {
	testdata, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatalf("failed to read testdata directory: %s", err)
	}
	for _, de := range testdata {
		if de.IsDir() || !strings.HasSuffix(de.Name(), ".jpeg") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", de.Name()))
		if err != nil {
			f.Fatalf("failed to read testdata: %s", err)
		}
		f.Add(b, uint8(1))
		f.Add(b, uint8(3))
	}

	f.Fuzz(func(t *testing.T, b []byte, scaleSel uint8) {
		cfg, err := DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return
		}
		if cfg.Width*cfg.Height > 1e6 {
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
