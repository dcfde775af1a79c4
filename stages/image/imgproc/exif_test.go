package imgproc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// withOrientation inserts an EXIF APP1 segment with Orientation o after the
// JPEG's SOI marker, in the byte order bo.
func withOrientation(j []byte, o uint16, order binary.ByteOrder) []byte {
	bo := order.(binary.AppendByteOrder)
	var tiff []byte
	if order == binary.BigEndian {
		tiff = []byte("MM\x00*")
	} else {
		tiff = []byte("II*\x00")
	}
	tiff = bo.AppendUint32(tiff, 8)
	tiff = bo.AppendUint16(tiff, 2)
	// An unrelated tag first (ImageWidth), then Orientation.
	tiff = bo.AppendUint16(tiff, 0x0100)
	tiff = bo.AppendUint16(tiff, 3)
	tiff = bo.AppendUint32(tiff, 1)
	tiff = bo.AppendUint32(tiff, 0)
	tiff = bo.AppendUint16(tiff, 0x0112)
	tiff = bo.AppendUint16(tiff, 3)
	tiff = bo.AppendUint32(tiff, 1)
	tiff = bo.AppendUint16(tiff, o)
	tiff = bo.AppendUint16(tiff, 0)
	tiff = bo.AppendUint32(tiff, 0)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1}
	out = binary.BigEndian.AppendUint16(out, uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, j[2:]...)
}

func TestOrientation(t *testing.T) {
	// 64x48 stored: left half red, right half blue. Upright views:
	rb := encJPEG(t, redBlue(64, 48))
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	tests := []struct {
		o              uint16
		w, h           int
		probeA, probeB image.Point // where red and blue end up in the 80x80 output
	}{
		{1, 64, 48, image.Pt(20, 40), image.Pt(60, 40)},
		{2, 64, 48, image.Pt(60, 40), image.Pt(20, 40)}, // mirrored: red on the right
		{3, 64, 48, image.Pt(60, 40), image.Pt(20, 40)},
		{4, 64, 48, image.Pt(20, 40), image.Pt(60, 40)},
		{5, 48, 64, image.Pt(40, 20), image.Pt(40, 60)}, // transposed: red on top
		{6, 48, 64, image.Pt(40, 20), image.Pt(40, 60)}, // turn 90 cw: left edge goes to the top
		{7, 48, 64, image.Pt(40, 60), image.Pt(40, 20)},
		{8, 48, 64, image.Pt(40, 60), image.Pt(40, 20)},
	}
	for _, tc := range tests {
		for _, bo := range []binary.ByteOrder{binary.BigEndian, binary.LittleEndian} {
			t.Run(fmt.Sprintf("%d/%v", tc.o, bo), func(t *testing.T) {
				b := withOrientation(rb, tc.o, bo)
				if got := Orientation(b); got != int(tc.o) {
					t.Fatalf("Orientation = %d, want %d", got, tc.o)
				}
				res, err := Process(b, defaultSpec(), 0)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([2]int{tc.w, tc.h}, [2]int{res.SourceWidth, res.SourceHeight}); diff != "" {
					t.Errorf("upright size (-want +got):\n%s", diff)
				}
				out, err := jpeg.Decode(bytes.NewReader(res.JPEG))
				if err != nil {
					t.Fatal(err)
				}
				if got := at(out, tc.probeA.X, tc.probeA.Y); !near(got, red, 40) {
					t.Errorf("at %v: %v, want red", tc.probeA, got)
				}
				if got := at(out, tc.probeB.X, tc.probeB.Y); !near(got, blue, 40) {
					t.Errorf("at %v: %v, want blue", tc.probeB, got)
				}
			})
		}
	}
}

// TestOrientationLarge: the rotation happens after the box pre-shrink.
func TestOrientationLarge(t *testing.T) {
	b := withOrientation(encJPEG(t, redBlue(640, 480)), 6, binary.BigEndian)
	res, err := Process(b, defaultSpec(), 0)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jpeg.Decode(bytes.NewReader(res.JPEG))
	if got := at(out, 40, 20); !near(got, color.RGBA{255, 0, 0, 255}, 40) {
		t.Errorf("top is %v, want red", got)
	}
}

func TestOrientationMalformed(t *testing.T) {
	good := withOrientation(encJPEG(t, redBlue(8, 8)), 6, binary.BigEndian)
	for _, b := range [][]byte{nil, {0xFF, 0xD8}, good[:20], good[:30], withOrientation(encJPEG(t, redBlue(8, 8)), 9, binary.BigEndian), []byte("\xFF\xD8\xFF\xE1\x00\x01")} {
		if got := Orientation(b); got != 1 {
			t.Errorf("Orientation(%q) = %d, want 1", b, got)
		}
	}
}

// FuzzOrientation: any bytes give 1..8 and never panic.
func FuzzOrientation(f *testing.F) {
	f.Add(withOrientation([]byte{0xFF, 0xD8, 0xFF, 0xD9}, 6, binary.BigEndian))
	f.Add(withOrientation([]byte{0xFF, 0xD8, 0xFF, 0xD9}, 3, binary.LittleEndian))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, 'E', 'x', 'i', 'f', 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if o := Orientation(b); o < 1 || o > 8 {
			t.Fatalf("Orientation = %d", o)
		}
	})
}
