package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/store"
	"github.com/google/go-cmp/cmp"
)

// memStore is a minimal in-memory store.Store for tests.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *memStore) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	if n < 0 || off+n > int64(len(b)) {
		n = int64(len(b)) - off
	}
	return io.NopCloser(bytes.NewReader(b[off : off+n])), nil
}

func (s *memStore) Put(ctx context.Context, key string, r io.Reader, _ *store.PutOptions) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = b
	return nil
}

func (s *memStore) Stat(ctx context.Context, key string) (store.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return store.Info{}, store.ErrNotFound
	}
	return store.Info{Key: key, Size: int64(len(b))}, nil
}

func (s *memStore) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	return errors.New("not implemented")
}

func (s *memStore) Swap(context.Context, string, io.Reader, string, *store.PutOptions) (string, error) {
	return "", errors.New("not implemented")
}

func (s *memStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func products(n int) []catalog.Product {
	var ps []catalog.Product
	for i := range n {
		p := catalog.Product{
			ID:           fmt.Sprintf("sku-%05d", i),
			Title:        fmt.Sprintf("Product %d", i),
			Link:         fmt.Sprintf("https://shop.example/p/%d", i),
			ImageLink:    fmt.Sprintf("https://shop.example/i/%d.jpg", i),
			Price:        int64(1000 + i),
			Currency:     "KRW",
			Availability: catalog.AvailabilityInStock,
			Condition:    catalog.ConditionNew,
			ShippingCost: -1,
		}
		if i%3 == 0 {
			p.Description = strings.Repeat("long text ", i%7)
			p.AdditionalImageLinks = []string{"https://shop.example/a.jpg", "https://shop.example/b.jpg"}
			p.SalePrice = 900
			p.Brand = "Brand"
			p.UpdatedAt = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		}
		ps = append(ps, p)
	}
	return ps
}

func TestRoundTrip(t *testing.T) {
	defer catalog.SetRowGroupRows(100)()
	for _, n := range []int{0, 1, 255, 256, 257, 1003} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			want := products(n)
			var buf bytes.Buffer
			w := catalog.NewWriter(&buf)
			w.SetMetadata("shop_id", "s1")
			for _, p := range want {
				if err := w.Write(p); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			st := &memStore{}
			key := catalog.CatalogKey("s1", "2026-11-23")
			if err := st.Put(t.Context(), key, &buf, nil); err != nil {
				t.Fatal(err)
			}
			var got []catalog.Product
			if err := catalog.Read(t.Context(), st, key, func(p catalog.Product) error {
				got = append(got, p)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			r, err := catalog.Open(t.Context(), st, key)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.NumRows() != int64(n) {
				t.Errorf("NumRows = %d, want %d", r.NumRows(), n)
			}
			for k, v := range map[string]string{"shop_id": "s1", "schema_version": catalog.SchemaVersion, "rows": fmt.Sprint(n)} {
				if got, _ := r.Metadata(k); got != v {
					t.Errorf("metadata %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestReadMissing(t *testing.T) {
	err := catalog.Read(t.Context(), &memStore{}, "nope", func(catalog.Product) error { return nil })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func TestReadStopsOnCallbackError(t *testing.T) {
	var buf bytes.Buffer
	w := catalog.NewWriter(&buf)
	for _, p := range products(10) {
		w.Write(p)
	}
	w.Close()
	st := &memStore{}
	st.Put(t.Context(), "k", &buf, nil)
	stop := errors.New("stop")
	calls := 0
	err := catalog.Read(t.Context(), st, "k", func(catalog.Product) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err = %v calls = %d, want stop after 1", err, calls)
	}
}

func TestAdditionalImagesCapped(t *testing.T) {
	var buf bytes.Buffer
	w := catalog.NewWriter(&buf)
	p := products(1)[0]
	for i := range 15 {
		p.AdditionalImageLinks = append(p.AdditionalImageLinks, fmt.Sprintf("https://x/%d", i))
	}
	w.Write(p)
	w.Close()
	r, err := catalog.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.AdditionalImageLinks) != catalog.MaxAdditionalImages {
		t.Fatalf("kept %d additional images", len(got.AdditionalImageLinks))
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("second Next = %v, want EOF", err)
	}
}
