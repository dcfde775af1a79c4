// Package memstore is an in-memory store.Store for unit tests of other
// packages. It keeps whole objects in memory, so it is not for large data.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/feedbatch/feedbatch/store"
)

// Store is an in-memory store.Store, safe for concurrent use.
type Store struct {
	mu   sync.Mutex
	objs map[string]object
	gen  uint64
}

type object struct {
	data []byte
	info store.Info
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{objs: make(map[string]object)} }

func (s *Store) get(ctx context.Context, key string) (object, error) {
	if err := store.CheckKey(key); err != nil {
		return object{}, err
	}
	if err := ctx.Err(); err != nil {
		return object{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.objs[key]
	if !ok {
		return object{}, &store.NotFoundError{Key: key, Root: "mem:"}
	}
	return o, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := s.get(ctx, key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// GetRange implements store.Store. A range past the end is cut at the end.
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("get %s: negative offset %d", key, offset)
	}
	o, err := s.get(ctx, key)
	if err != nil {
		return nil, err
	}
	size := int64(len(o.data))
	offset = min(offset, size)
	if length < 0 || offset+length > size {
		length = size - offset
	}
	return io.NopCloser(bytes.NewReader(o.data[offset : offset+length])), nil
}

// Stat implements store.Store.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	o, err := s.get(ctx, key)
	return o.info, err
}

// Put implements store.Store. The object is read fully before it is
// published, so a failed or cancelled read publishes nothing.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) error {
	if opts == nil {
		opts = &store.PutOptions{}
	}
	data, err := read(ctx, key, r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[key]; ok && opts.IfAbsent {
		return fmt.Errorf("put %s: %w", key, store.ErrExists)
	}
	s.publish(key, data)
	return nil
}

// Swap implements store.Store.
func (s *Store) Swap(ctx context.Context, key string, r io.Reader, ifMatch string, _ *store.PutOptions) (string, error) {
	data, err := read(ctx, key, r)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.objs[key]; ok != (ifMatch != "") || o.info.ETag != ifMatch {
		return "", fmt.Errorf("swap %s: %w", key, store.ErrChanged)
	}
	return s.publish(key, data), nil
}

// read reads a whole body, checking ctx between reads.
func read(ctx context.Context, key string, r io.Reader) ([]byte, error) {
	if err := store.CheckKey(key); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	p := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("put %s: %w", key, err)
		}
		n, err := r.Read(p)
		buf.Write(p[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("put %s: %w", key, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("put %s: %w", key, err)
	}
	return buf.Bytes(), nil
}

// publish stores data under key with a new ETag; s.mu is held.
func (s *Store) publish(key string, data []byte) string {
	s.gen++
	etag := strconv.FormatUint(s.gen, 16)
	s.objs[key] = object{data: data, info: store.Info{
		Key:     key,
		Size:    int64(len(data)),
		ModTime: time.Now(),
		ETag:    etag,
	}}
	return etag
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	s.mu.Lock()
	var infos []store.Info
	for k, o := range s.objs {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, o.info)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(infos, func(a, b store.Info) int { return strings.Compare(a.Key, b.Key) })
	for _, in := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(in); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.get(ctx, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[key]; !ok {
		return &store.NotFoundError{Key: key, Root: "mem:"}
	}
	delete(s.objs, key)
	return nil
}
