package store

import (
	"context"
	"fmt"
	"io"
)

// ReaderAt reads one object by ranged reads. It implements io.ReaderAt and
// Size (which parquet-go needs) and counts the bytes and calls it made, so
// callers can report how much of an object they touched.
type ReaderAt struct {
	ctx   context.Context
	st    Store
	key   string
	size  int64
	Bytes int64 // bytes read so far
	Calls int64 // ranged reads so far
}

// NewReaderAt stats key and returns a ReaderAt over it. The ctx is used for
// every read made through the returned value; it lives only as long as the
// caller's read.
func NewReaderAt(ctx context.Context, st Store, key string) (*ReaderAt, error) {
	info, err := st.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	return &ReaderAt{ctx: ctx, st: st, key: key, size: info.Size}, nil
}

// Size is the object's size in bytes.
func (r *ReaderAt) Size() int64 { return r.size }

// ReadAt implements io.ReaderAt with one ranged read.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if off+n > r.size {
		n = r.size - off
	}
	rc, err := r.st.GetRange(r.ctx, r.key, off, n)
	if err != nil {
		return 0, fmt.Errorf("read %s at %d: %w", r.key, off, err)
	}
	defer rc.Close()
	got, err := io.ReadFull(rc, p[:n])
	r.Bytes += int64(got)
	r.Calls++
	if err != nil {
		return got, fmt.Errorf("read %s at %d: %w", r.key, off, err)
	}
	if got < len(p) {
		return got, io.EOF
	}
	return got, nil
}
