package jpeg

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// repeatFirstScan returns a progressive JPEG whose first scan (the DC
// scan: SOS header and entropy-coded data) is written n times in all.
func repeatFirstScan(t *testing.T, b []byte, n int) []byte {
	t.Helper()
	sos := bytes.Index(b, []byte{0xff, sosMarker})
	if sos < 0 {
		t.Fatal("no scan")
	}
	end := sos + 2
	for ; end+1 < len(b); end++ {
		if m := b[end+1]; b[end] == 0xff && m != 0 && (m < rst0Marker || m > rst7Marker) {
			break
		}
	}
	out := bytes.Clone(b[:sos])
	for range n {
		out = append(out, b[sos:end]...)
	}
	return append(out, b[end:]...)
}

// TestScanLimit: a file of many cheap scans (each may walk every block of
// the image) is refused at scan maxScans+1 without reading the rest; a file
// with exactly maxScans scans still decodes.
func TestScanLimit(t *testing.T) {
	b, err := os.ReadFile("testdata/fuzzseed/s420.progressive.jpeg")
	if err != nil {
		t.Fatal(err)
	}
	scans := bytes.Count(b, []byte{0xff, sosMarker})

	ok := repeatFirstScan(t, b, maxScans-scans+1)
	var d decoder
	if _, err := d.decode(bytes.NewReader(ok), false); err != nil {
		t.Fatalf("%d scans: %v", maxScans, err)
	}
	if d.scans != maxScans {
		t.Fatalf("read %d scans, want %d", d.scans, maxScans)
	}

	bad := repeatFirstScan(t, b, 10*maxScans)
	d = decoder{}
	_, err = d.decode(bytes.NewReader(bad), false)
	var fe FormatError
	if !errors.As(err, &fe) || err.Error() != "invalid JPEG format: more than 500 scans" {
		t.Fatalf("%d scans: got error %v, want more than %d scans", 10*maxScans+scans-1, err, maxScans)
	}
	if d.scans != maxScans+1 {
		t.Fatalf("read %d scans before refusing, want %d", d.scans, maxScans+1)
	}
}
