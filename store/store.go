// Package store defines the object store that every part of feedbatch reads
// and writes: the manifest, run records, result records, catalogs, feeds and
// images all live under one root (s3://bucket/prefix or file:///dir).
//
// Implementations live in store/filestore and store/s3store; cmd/feedbatch
// chooses one from the root URL. Every implementation passes the conformance
// suite in store/storetest.
package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors are checked with errors.Is.
var (
	// ErrNotFound is returned when a key does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is returned by Put with IfAbsent when the key already exists.
	ErrExists = errors.New("store: already exists")
	// ErrChanged is returned by Swap when the object is not the one the
	// caller expected (another writer replaced, created or deleted it).
	ErrChanged = errors.New("store: changed by another writer")
)

// Info describes one stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// ETag changes whenever the content changes; opaque.
	ETag string
}

// PutOptions adjust one Put. The zero value is an unconditional write.
type PutOptions struct {
	// IfAbsent makes the write succeed only if the key does not exist yet;
	// otherwise Put returns ErrExists and leaves the object untouched.
	IfAbsent        bool
	ContentType     string
	ContentEncoding string
	CacheControl    string
}

// Store is a flat key space of immutable-by-replacement objects. Keys are
// slash-separated relative paths ("runs/2026-11-23/manifest.parquet"); they
// never start with "/" and never contain "." or ".." segments.
type Store interface {
	// Get opens the object for reading. If the key does not exist, Get must
	// return an error for which errors.Is(err, ErrNotFound) is true.
	Get(ctx context.Context, key string) (io.ReadCloser, error)

	// GetRange reads length bytes starting at offset (length < 0: to the end).
	// A missing key gives ErrNotFound.
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)

	// Put streams r into key. The write is atomic: a concurrent reader sees the
	// previous object or the complete new one, never a partial one. If ctx is
	// cancelled or r returns an error, no object is created or replaced.
	// Memory use is bounded whatever the size of r.
	Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) error

	// Stat describes the object; a missing key gives ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)

	// List calls fn exactly once for each object whose key starts with
	// prefix, in lexical key order. An error from fn stops the listing and is
	// returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error

	// Delete removes the object. A missing key gives ErrNotFound.
	Delete(ctx context.Context, key string) error

	// Swap is a compare-and-swap of a whole object: it writes r to key only
	// if the object's current ETag is ifMatch, or, when ifMatch is "", only
	// if the key does not exist. It returns the ETag of the object it wrote
	// (the one Stat reports until the next write). When the condition does
	// not hold, Swap returns an error matching ErrChanged and leaves the
	// object untouched. Like Put it is atomic and bounded in memory;
	// opts.IfAbsent is ignored.
	//
	// Swap excludes other Swap calls on the key; a plain Put or Delete
	// racing it is not excluded, so the writers of a key that is guarded by
	// Swap use Swap alone.
	Swap(ctx context.Context, key string, r io.Reader, ifMatch string, opts *PutOptions) (etag string, err error)
}
