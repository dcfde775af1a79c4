package parse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// lowFloor lowers the ratio floor for the test, so bombs are refused after
// a few MiB, fast under the race detector.
func lowFloor(t *testing.T) {
	old := ratioFloor
	ratioFloor = 1 << 20
	t.Cleanup(func() { ratioFloor = old })
}

// bomb repeats one compressed member of 1 MiB of zeros (gzip members and
// zstd frames both concatenate) until it decompresses to size bytes.
func bomb(t *testing.T, kind string, size int64) []byte {
	t.Helper()
	zeros := make([]byte, 1<<20)
	var member bytes.Buffer
	switch kind {
	case "gzip":
		zw, err := gzip.NewWriterLevel(&member, gzip.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(zeros)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	case "zstd":
		zw, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		member.Write(zw.EncodeAll(zeros, nil))
	}
	return bytes.Repeat(member.Bytes(), int(size/int64(len(zeros))))
}

// guardReader fails a read past limit bytes: the old reader decompressed a
// whole bomb (59-106 s for 10 MB) before giving up.
type guardReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (g *guardReader) Read(p []byte) (int, error) {
	if g.n >= g.limit {
		return 0, fmt.Errorf("test: %d compressed bytes read, the bomb was not refused", g.n)
	}
	n, err := g.r.Read(p[:min(int64(len(p)), g.limit-g.n)])
	g.n += int64(n)
	return n, err
}

// TestBombRefusedEarly checks that a gzip or zstd bomb (1 GiB from 1 MB or
// less) is refused with ErrDecompressionBomb after reading a small part of
// it: bounded work, whatever the bomb's size.
func TestBombRefusedEarly(t *testing.T) {
	lowFloor(t)
	for _, tc := range []struct {
		kind     string
		settings Settings
	}{
		{"gzip", Settings{Format: FormatCSV}},
		{"zstd", Settings{Format: FormatCSV}},
		{"gzip", Settings{Format: FormatTSV}},
		{"zstd", Settings{Format: FormatJSONL}},
	} {
		t.Run(tc.kind+"-"+tc.settings.Format, func(t *testing.T) {
			b := bomb(t, tc.kind, 1<<30)
			raw := &guardReader{r: bytes.NewReader(b), limit: 256 << 10}
			err := drain(Open(raw, tc.settings))
			if !errors.Is(err, ErrDecompressionBomb) {
				t.Fatalf("%s bomb of %d bytes: %v, want ErrDecompressionBomb", tc.kind, len(b), err)
			}
			t.Logf("%s bomb of %d bytes refused after %d bytes read: %v", tc.kind, len(b), raw.n, err)
		})
	}
}

// TestBombBounds checks the options and that the bounds spare a real
// source: a compressible file under the ratio floor, and a source whose
// ratio is under the cap.
func TestBombBounds(t *testing.T) {
	lowFloor(t)
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.Bytes()
	}
	csv := "id,title\n" + strings.Repeat("1,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 20_000)
	for _, tc := range []struct {
		name    string
		in      []byte
		options map[string]string
		bomb    bool
	}{
		{"small-compressible", gz(csv), nil, false},
		{"cap", gz(csv), map[string]string{"max_decompressed_bytes": "1000"}, true},
		{"raised-ratio", bomb(t, "gzip", 8<<20), map[string]string{"max_ratio": "5000"}, false},
		{"ratio", bomb(t, "gzip", 8<<20), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := drain(Open(bytes.NewReader(tc.in), Settings{Format: FormatCSV, Options: tc.options}))
			if got := errors.Is(err, ErrDecompressionBomb); got != tc.bomb {
				t.Fatalf("refused %v (%v), want %v", got, err, tc.bomb)
			}
		})
	}
	if _, _, err := Open(bytes.NewReader(gz(csv)), Settings{Options: map[string]string{"max_ratio": "0"}}); err == nil {
		t.Error("max_ratio 0 accepted")
	}
}

// drain reads p to its end and returns the error that ended it.
func drain(p Parser, _ Detected, err error) error {
	if err != nil {
		return err
	}
	for {
		_, err := p.Next()
		if _, ok := AsRowError(err); ok {
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
