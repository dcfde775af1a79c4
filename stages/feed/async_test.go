package feed

import (
	"bytes"
	"errors"
	"testing"
)

type failAfter struct {
	n   int
	buf bytes.Buffer
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.buf.Len()+len(p) > f.n {
		return 0, errors.New("disk full")
	}
	return f.buf.Write(p)
}

func TestAsyncWriter(t *testing.T) {
	var want bytes.Buffer
	dst := &failAfter{n: 1 << 30}
	a := newAsyncWriter(dst, 7, 3)
	for i := range 1000 {
		chunk := bytes.Repeat([]byte{byte(i)}, i%23)
		want.Write(chunk)
		if _, err := a.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.buf.Bytes(), want.Bytes()) {
		t.Error("bytes differ after the async writer")
	}

	bad := &failAfter{n: 100}
	a = newAsyncWriter(bad, 16, 2)
	for range 100 {
		a.Write(make([]byte, 10))
	}
	if err := a.Close(); err == nil || err.Error() != "disk full" {
		t.Errorf("Close = %v, want the write error", err)
	}
}
