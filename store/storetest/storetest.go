// Package storetest is the conformance suite that every store.Store
// implementation passes, and a few benchmarks shared by them.
//
// Stores under test should use a multipart part size of at most 6 MiB, so
// that LargeSize bodies exercise the multipart path.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/feedbatch/feedbatch/store"
)

// LargeSize is the size of the "large" bodies of the suite: more than two
// parts of 5 MiB, with an odd tail.
const LargeSize = 11<<20 + 12345

// Options adjust Run.
type Options struct {
	// Skip names subtests (as in t.Run, e.g. "IfAbsent/Multipart") that
	// this store is known not to pass, each with the reason printed on skip.
	Skip map[string]string
	// ListKeys is the number of keys of the paging test (default 1100, more
	// than one S3 page of 1000).
	ListKeys int
}

// Run runs the conformance suite; newStore returns a fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	RunWith(t, newStore, Options{})
}

// RunWith is Run with options.
func RunWith(t *testing.T, newStore func(t *testing.T) store.Store, opts Options) {
	if opts.ListKeys == 0 {
		opts.ListKeys = 1100
	}
	s := suite{newStore: newStore, opts: opts}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"RoundTrip", s.testRoundTrip},
		{"NotFound", s.testNotFound},
		{"Overwrite", s.testOverwrite},
		{"Delete", s.testDelete},
		{"IfAbsent", s.testIfAbsent},
		{"Swap", s.testSwap},
		{"Range", s.testRange},
		{"ReaderAt", s.testReaderAt},
		{"List", s.testList},
		{"ListPaging", s.testListPaging},
		{"CanceledWrite", s.testCanceledWrite},
		{"ConcurrentOverwrite", s.testConcurrentOverwrite},
		{"Multipart", s.testMultipart},
		{"InvalidKeys", s.testInvalidKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.skip(t)
			tc.fn(t)
		})
	}
}

type suite struct {
	newStore func(t *testing.T) store.Store
	opts     Options
}

// skip skips t if its name (below the suite's parent test) is listed.
func (s suite) skip(t *testing.T) {
	t.Helper()
	name := t.Name()
	for k, why := range s.opts.Skip {
		if name == k || strings.HasSuffix(name, "/"+k) {
			t.Skip(why)
		}
	}
}

// run is t.Run with the skip list applied.
func (s suite) run(t *testing.T, name string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		s.skip(t)
		fn(t)
	})
}

// Data returns n deterministic pseudo-random bytes for seed.
func Data(seed uint64, n int) []byte {
	b := make([]byte, n)
	io.ReadFull(NewStream(seed, int64(n)), b)
	return b
}

// NewStream returns a non-seekable reader of n deterministic pseudo-random
// bytes for seed (the same bytes as Data).
func NewStream(seed uint64, n int64) io.Reader {
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	key[2] = byte(seed >> 16)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

func put(t *testing.T, st store.Store, key string, data []byte, opts *store.PutOptions) {
	t.Helper()
	if err := st.Put(t.Context(), key, bytes.NewReader(data), opts); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	return b
}

func getRange(t *testing.T, st store.Store, key string, off, n int64) []byte {
	t.Helper()
	rc, err := st.GetRange(t.Context(), key, off, n)
	if err != nil {
		t.Fatalf("GetRange(%q, %d, %d): %v", key, off, n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("GetRange(%q, %d, %d): read: %v", key, off, n, err)
	}
	return b
}

func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: got %d bytes (sha256 %x), want %d bytes (sha256 %x)",
			what, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

func keys(t *testing.T, st store.Store, prefix string) []string {
	t.Helper()
	var ks []string
	err := st.List(t.Context(), prefix, func(in store.Info) error {
		ks = append(ks, in.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return ks
}

func (s suite) testRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  string
		data []byte
	}{
		{"small", "a/b/c.txt", []byte("hello, world")},
		{"empty", "empty", nil},
		{"one part", "deep/x/y/z/obj.bin", Data(1, 1<<20+3)},
		{"odd key", "shops/shop-1/feeds/google.xml.gz", []byte("x")},
	} {
		s.run(t, tc.name, func(t *testing.T) {
			st := s.newStore(t)
			put(t, st, tc.key, tc.data, &store.PutOptions{ContentType: "application/octet-stream"})
			sameBytes(t, "Get", get(t, st, tc.key), tc.data)
			info, err := st.Stat(t.Context(), tc.key)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if info.Key != tc.key || info.Size != int64(len(tc.data)) || info.ETag == "" || info.ModTime.IsZero() {
				t.Errorf("Stat = %+v, want key %q size %d, an ETag and a ModTime", info, tc.key, len(tc.data))
			}
		})
	}
}

func (s suite) testNotFound(t *testing.T) {
	st := s.newStore(t)
	put(t, st, "present", []byte("x"), nil)
	ctx := t.Context()
	for _, key := range []string{"missing", "present/child", "pres"} {
		_, err := st.Get(ctx, key)
		checkNotFound(t, "Get "+key, key, err)
		_, err = st.GetRange(ctx, key, 0, 1)
		checkNotFound(t, "GetRange "+key, key, err)
		_, err = st.GetRange(ctx, key, 0, -1)
		checkNotFound(t, "GetRange to end "+key, key, err)
		_, err = st.Stat(ctx, key)
		checkNotFound(t, "Stat "+key, key, err)
		checkNotFound(t, "Delete "+key, key, st.Delete(ctx, key))
	}
}

// checkNotFound: a missing key is a store.NotFoundError naming the key
// and the root once, matching ErrNotFound.
func checkNotFound(t *testing.T, what, key string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: err = %v, want ErrNotFound", what, err)
		return
	}
	nf, ok := errors.AsType[*store.NotFoundError](err)
	if !ok || nf.Key != key || nf.Root == "" {
		t.Errorf("%s: err = %v, want a *store.NotFoundError with key %q and the root", what, err, key)
		return
	}
	if n := strings.Count(err.Error(), key); n != 1 || strings.Count(err.Error(), nf.Root) != 1 {
		t.Errorf("%s: %q names key or root more than once", what, err)
	}
}

func (s suite) testOverwrite(t *testing.T) {
	st := s.newStore(t)
	put(t, st, "k", []byte("first version"), nil)
	before, err := st.Stat(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	put(t, st, "k", []byte("second"), nil)
	sameBytes(t, "Get after overwrite", get(t, st, "k"), []byte("second"))
	after, err := st.Stat(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if after.Size != 6 || after.ETag == before.ETag {
		t.Errorf("Stat after overwrite = %+v, before %+v: want size 6 and a new ETag", after, before)
	}
	if diff := cmp.Diff([]string{"k"}, keys(t, st, "")); diff != "" {
		t.Errorf("List after overwrite (-want +got):\n%s", diff)
	}
}

func (s suite) testDelete(t *testing.T) {
	st := s.newStore(t)
	put(t, st, "d/1", []byte("1"), nil)
	put(t, st, "d/2", []byte("2"), nil)
	if err := st.Delete(t.Context(), "d/1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err := st.Get(t.Context(), "d/1")
	checkNotFound(t, "Get after Delete", "d/1", err)
	checkNotFound(t, "second Delete", "d/1", st.Delete(t.Context(), "d/1"))
	if diff := cmp.Diff([]string{"d/2"}, keys(t, st, "")); diff != "" {
		t.Errorf("List after Delete (-want +got):\n%s", diff)
	}
	// The key can be written again.
	put(t, st, "d/1", []byte("again"), &store.PutOptions{IfAbsent: true})
	sameBytes(t, "Get after re-create", get(t, st, "d/1"), []byte("again"))
}

func (s suite) testIfAbsent(t *testing.T) {
	s.run(t, "Single", func(t *testing.T) {
		st := s.newStore(t)
		put(t, st, "claim", []byte("mine"), &store.PutOptions{IfAbsent: true})
		err := st.Put(t.Context(), "claim", strings.NewReader("yours"), &store.PutOptions{IfAbsent: true})
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("second IfAbsent Put: err = %v, want ErrExists", err)
		}
		sameBytes(t, "Get", get(t, st, "claim"), []byte("mine"))
		// An unconditional write still replaces it.
		put(t, st, "claim", []byte("forced"), nil)
		sameBytes(t, "Get after forced write", get(t, st, "claim"), []byte("forced"))
	})
	s.run(t, "Multipart", func(t *testing.T) {
		// If-None-Match must also hold on the multipart path.
		st := s.newStore(t)
		put(t, st, "big", []byte("small original"), nil)
		err := st.Put(t.Context(), "big", NewStream(7, LargeSize), &store.PutOptions{IfAbsent: true})
		if !errors.Is(err, store.ErrExists) {
			t.Fatalf("IfAbsent multipart Put over existing key: err = %v, want ErrExists", err)
		}
		sameBytes(t, "Get", get(t, st, "big"), []byte("small original"))
		// And a large conditional write to a new key works.
		if err := st.Put(t.Context(), "big2", NewStream(7, LargeSize), &store.PutOptions{IfAbsent: true}); err != nil {
			t.Fatalf("IfAbsent multipart Put to a new key: %v", err)
		}
		sameBytes(t, "Get big2", get(t, st, "big2"), Data(7, LargeSize))
	})
	s.run(t, "Concurrent", func(t *testing.T) {
		st := s.newStore(t)
		const writers = 8
		for round := range 3 {
			key := fmt.Sprintf("race/%d", round)
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					errs[i] = st.Put(t.Context(), key, strings.NewReader(fmt.Sprintf("writer %d", i)), &store.PutOptions{IfAbsent: true})
				})
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("round %d: writers %d and %d both won", round, winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, store.ErrExists):
					t.Errorf("round %d: writer %d: err = %v, want nil or ErrExists", round, i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: no writer won", round)
			}
			sameBytes(t, "winner's content", get(t, st, key), fmt.Appendf(nil, "writer %d", winner))
		}
	})
}

func swap(t *testing.T, st store.Store, key string, data []byte, ifMatch string) string {
	t.Helper()
	etag, err := st.Swap(t.Context(), key, bytes.NewReader(data), ifMatch, nil)
	if err != nil {
		t.Fatalf("Swap(%q, if-match %q): %v", key, ifMatch, err)
	}
	if etag == "" {
		t.Fatalf("Swap(%q) returned no ETag", key)
	}
	return etag
}

func checkChanged(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrChanged) {
		t.Errorf("%s: err = %v, want ErrChanged", what, err)
	}
}

func (s suite) testSwap(t *testing.T) {
	s.run(t, "CreateAndReplace", func(t *testing.T) {
		st := s.newStore(t)
		ctx := t.Context()
		e1 := swap(t, st, "lease/run.json", []byte("owner A"), "")
		if info, err := st.Stat(ctx, "lease/run.json"); err != nil || info.ETag != e1 {
			t.Fatalf("Stat after create = %+v, %v; want ETag %q", info, err, e1)
		}
		_, err := st.Swap(ctx, "lease/run.json", strings.NewReader("owner B"), "", nil)
		checkChanged(t, "create over an existing key", err)

		e2 := swap(t, st, "lease/run.json", []byte("owner A, step 2"), e1)
		if e2 == e1 {
			t.Errorf("replace kept ETag %q", e1)
		}
		if info, err := st.Stat(ctx, "lease/run.json"); err != nil || info.ETag != e2 {
			t.Fatalf("Stat after replace = %+v, %v; want ETag %q", info, err, e2)
		}
		// A writer holding the first ETag has lost: nothing changes.
		_, err = st.Swap(ctx, "lease/run.json", strings.NewReader("stale owner"), e1, nil)
		checkChanged(t, "replace with a stale ETag", err)
		sameBytes(t, "Get after refused swap", get(t, st, "lease/run.json"), []byte("owner A, step 2"))

		// A plain Put also moves the ETag on.
		put(t, st, "lease/run.json", []byte("forced"), nil)
		_, err = st.Swap(ctx, "lease/run.json", strings.NewReader("after force"), e2, nil)
		checkChanged(t, "replace after a plain Put", err)
		sameBytes(t, "Get after forced write", get(t, st, "lease/run.json"), []byte("forced"))
	})
	s.run(t, "Missing", func(t *testing.T) {
		st := s.newStore(t)
		e := swap(t, st, "gone", []byte("x"), "")
		if err := st.Delete(t.Context(), "gone"); err != nil {
			t.Fatal(err)
		}
		_, err := st.Swap(t.Context(), "gone", strings.NewReader("y"), e, nil)
		checkChanged(t, "replace of a deleted key", err)
		_, err = st.Get(t.Context(), "gone")
		checkNotFound(t, "Get after refused swap", "gone", err)
	})
	s.run(t, "Canceled", func(t *testing.T) {
		st := s.newStore(t)
		e := swap(t, st, "c", []byte("kept"), "")
		_, err := st.Swap(t.Context(), "c", &failingReader{r: NewStream(5, 1000)}, e, nil)
		if err == nil {
			t.Fatal("Swap with a failing body succeeded")
		}
		sameBytes(t, "Get after failed swap", get(t, st, "c"), []byte("kept"))
		if info, err := st.Stat(t.Context(), "c"); err != nil || info.ETag != e {
			t.Errorf("Stat after failed swap = %+v, %v; want ETag %q", info, err, e)
		}
	})
	s.run(t, "Multipart", func(t *testing.T) {
		st := s.newStore(t)
		e := swap(t, st, "big", []byte("small original"), "")
		_, err := st.Swap(t.Context(), "big", NewStream(5, LargeSize), "stale-etag", nil)
		checkChanged(t, "multipart replace with a wrong ETag", err)
		sameBytes(t, "Get", get(t, st, "big"), []byte("small original"))
		e2, err := st.Swap(t.Context(), "big", NewStream(5, LargeSize), e, nil)
		if err != nil {
			t.Fatalf("multipart replace: %v", err)
		}
		sameBytes(t, "Get after multipart replace", get(t, st, "big"), Data(5, LargeSize))
		if info, err := st.Stat(t.Context(), "big"); err != nil || info.ETag != e2 {
			t.Errorf("Stat after multipart replace = %+v, %v; want ETag %q", info, err, e2)
		}
	})
	s.run(t, "Concurrent", func(t *testing.T) {
		st := s.newStore(t)
		etag := swap(t, st, "race", []byte("start"), "")
		const writers = 8
		for round := range 3 {
			errs := make([]error, writers)
			etags := make([]string, writers)
			var wg sync.WaitGroup
			for i := range writers {
				wg.Go(func() {
					etags[i], errs[i] = st.Swap(t.Context(), "race", strings.NewReader(fmt.Sprintf("round %d writer %d", round, i)), etag, nil)
				})
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("round %d: writers %d and %d both won", round, winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, store.ErrChanged):
					t.Errorf("round %d: writer %d: err = %v, want nil or ErrChanged", round, i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: no writer won", round)
			}
			sameBytes(t, "winner's content", get(t, st, "race"), fmt.Appendf(nil, "round %d writer %d", round, winner))
			etag = etags[winner]
		}
	})
}

func (s suite) testRange(t *testing.T) {
	st := s.newStore(t)
	data := Data(3, 10000)
	put(t, st, "r", data, nil)
	n := int64(len(data))
	for _, tc := range []struct {
		name     string
		off, len int64
		want     []byte
	}{
		{"start", 0, 10, data[:10]},
		{"middle", 1234, 100, data[1234:1334]},
		{"whole", 0, -1, data},
		{"suffix to end", n - 7, -1, data[n-7:]},
		{"last byte", n - 1, 1, data[n-1:]},
		{"past end is cut", n - 5, 100, data[n-5:]},
		{"exactly at end", n, 10, nil},
		{"beyond end", n + 10, 5, nil},
		{"beyond end to end", n + 10, -1, nil},
		{"zero length", 17, 0, nil},
	} {
		s.run(t, tc.name, func(t *testing.T) {
			sameBytes(t, fmt.Sprintf("GetRange(%d, %d)", tc.off, tc.len), getRange(t, st, "r", tc.off, tc.len), tc.want)
		})
	}
	s.run(t, "empty object", func(t *testing.T) {
		put(t, st, "empty", nil, nil)
		sameBytes(t, "GetRange(0, -1)", getRange(t, st, "empty", 0, -1), nil)
		sameBytes(t, "GetRange(0, 10)", getRange(t, st, "empty", 0, 10), nil)
	})
	s.run(t, "negative offset", func(t *testing.T) {
		if rc, err := st.GetRange(t.Context(), "r", -1, 5); err == nil {
			rc.Close()
			t.Errorf("GetRange(-1, 5) succeeded")
		}
	})
}

func (s suite) testReaderAt(t *testing.T) {
	st := s.newStore(t)
	data := Data(4, 100000)
	put(t, st, "ra", data, nil)
	ra, err := store.NewReaderAt(t.Context(), st, "ra")
	if err != nil {
		t.Fatal(err)
	}
	if ra.Size() != int64(len(data)) {
		t.Fatalf("Size = %d, want %d", ra.Size(), len(data))
	}
	p := make([]byte, 1000)
	for _, off := range []int64{0, 1, 4096, 50000, 99000} {
		n, err := ra.ReadAt(p, off)
		if n != len(p) || err != nil {
			t.Fatalf("ReadAt(%d) = %d, %v", off, n, err)
		}
		sameBytes(t, fmt.Sprintf("ReadAt(%d)", off), p, data[off:off+1000])
	}
	n, err := ra.ReadAt(p, 99500)
	if n != 500 || err != io.EOF {
		t.Errorf("ReadAt at tail = %d, %v; want 500, EOF", n, err)
	}
	sameBytes(t, "ReadAt tail", p[:n], data[99500:])
	if n, err := ra.ReadAt(p, 100000); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at end = %d, %v; want 0, EOF", n, err)
	}
	// Through io.SectionReader, as a format reader would use it.
	sec, err := io.ReadAll(io.NewSectionReader(ra, 333, 7777))
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "SectionReader", sec, data[333:333+7777])
	if ra.Calls == 0 || ra.Bytes == 0 {
		t.Errorf("ReaderAt counted %d calls, %d bytes", ra.Calls, ra.Bytes)
	}
	if _, err := store.NewReaderAt(t.Context(), st, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("NewReaderAt(missing): err = %v, want ErrNotFound", err)
	}
}

func (s suite) testList(t *testing.T) {
	st := s.newStore(t)
	// Keys chosen so that directory-walk order and lexical order differ.
	all := []string{"a-b", "a.b", "a/c", "a/c-d", "a/c/e", "ab", "b", "b0/x", "runs/2026-11-23/results/feed/0.json", "runs/2026-11-23/run.json", "runs/2026-11-24/run.json", "z"}
	// a/c is an object and also a "folder" in S3; a file system cannot
	// have both, so use a key set without that clash.
	all = slices.DeleteFunc(all, func(k string) bool { return k == "a/c" })
	for i, k := range slices.Backward(all) {
		put(t, st, k, []byte(k), nil)
		_ = i
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"a", []string{"a-b", "a.b", "a/c-d", "a/c/e", "ab"}},
		{"a/", []string{"a/c-d", "a/c/e"}},
		{"a/c", []string{"a/c-d", "a/c/e"}},
		{"a/c/", []string{"a/c/e"}},
		{"b", []string{"b", "b0/x"}},
		{"runs/2026-11-23/", []string{"runs/2026-11-23/results/feed/0.json", "runs/2026-11-23/run.json"}},
		{"runs/2026-11-2", []string{"runs/2026-11-23/results/feed/0.json", "runs/2026-11-23/run.json", "runs/2026-11-24/run.json"}},
		{"nothing", nil},
		{"nothing/", nil},
		{"z/", nil},
	} {
		s.run(t, "prefix "+tc.prefix, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, keys(t, st, tc.prefix)); diff != "" {
				t.Errorf("List(%q) (-want +got):\n%s", tc.prefix, diff)
			}
		})
	}
	s.run(t, "info", func(t *testing.T) {
		err := st.List(t.Context(), "a.b", func(in store.Info) error {
			if in.Key != "a.b" || in.Size != 3 || in.ETag == "" || in.ModTime.IsZero() {
				t.Errorf("List info = %+v", in)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	s.run(t, "fn error stops", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := st.List(t.Context(), "", func(store.Info) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Errorf("List = %v after %d calls, want the fn error after 3", err, calls)
		}
	})
}

func (s suite) testListPaging(t *testing.T) {
	st := s.newStore(t)
	n := s.opts.ListKeys
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("page/%05d", i)
	}
	g, ctx := errgroup.WithContext(t.Context())
	g.SetLimit(8)
	for _, k := range want {
		g.Go(func() error { return st.Put(ctx, k, strings.NewReader(k), nil) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	put(t, st, "pagf", []byte("after"), nil)
	got := keys(t, st, "page/")
	if len(got) != n || !slices.IsSorted(got) {
		t.Errorf("List gave %d keys (sorted: %v), want %d sorted", len(got), slices.IsSorted(got), n)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if got := keys(t, st, ""); len(got) != n+1 || got[n] != "pagf" {
		t.Errorf("List all gave %d keys, want %d ending in pagf", len(got), n+1)
	}
}

// failingReader returns its data and then fails (or cancels ctx).
type failingReader struct {
	r      io.Reader
	cancel context.CancelFunc // nil: return errBody instead
}

var errBody = errors.New("storetest: body failed")

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		if f.cancel != nil {
			f.cancel()
			return n, context.Canceled
		}
		return n, errBody
	}
	return n, err
}

func (s suite) testCanceledWrite(t *testing.T) {
	for _, size := range []struct {
		name string
		n    int64
	}{{"small", 1000}, {"large", LargeSize}} {
		for _, mode := range []string{"cancel", "error", "cancel before"} {
			s.run(t, size.name+"/"+mode, func(t *testing.T) {
				st := s.newStore(t)
				put(t, st, "old", []byte("old content"), nil)
				for _, key := range []string{"new", "old"} {
					ctx, cancel := context.WithCancel(t.Context())
					r := &failingReader{r: NewStream(5, size.n)}
					switch mode {
					case "cancel":
						r.cancel = cancel
					case "cancel before":
						cancel()
					}
					err := st.Put(ctx, key, r, nil)
					cancel()
					if err == nil {
						t.Fatalf("Put(%q) succeeded despite a failing body", key)
					}
				}
				_, err := st.Stat(t.Context(), "new")
				checkNotFound(t, "Stat after failed write", "new", err)
				sameBytes(t, "old object after failed overwrite", get(t, st, "old"), []byte("old content"))
				if diff := cmp.Diff([]string{"old"}, keys(t, st, "")); diff != "" {
					t.Errorf("List after failed writes (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func (s suite) testConcurrentOverwrite(t *testing.T) {
	st := s.newStore(t)
	// Versions differ in size and content; each byte of version v is v.
	version := func(v int) []byte { return bytes.Repeat([]byte{byte(v)}, LargeSize/2+v*4099) }
	put(t, st, "hot", version(0), nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const versions = 4
	done := make(chan error, 1)
	go func() {
		defer cancel()
		for v := 1; v <= versions; v++ {
			if err := st.Put(ctx, "hot", bytes.NewReader(version(v)), nil); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	reads := 0
	for ctx.Err() == nil {
		rc, err := st.Get(ctx, "hot")
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatalf("Get during overwrite: %v", err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatalf("read during overwrite: %v", err)
		}
		reads++
		v := int(b[0])
		if v > versions || !bytes.Equal(b, version(v)) {
			t.Fatalf("read %d bytes starting with %d: not a complete version", len(b), v)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Put: %v", err)
	}
	sameBytes(t, "final", get(t, st, "hot"), version(versions))
	t.Logf("%d complete reads during %d overwrites", reads, versions)
}

func (s suite) testMultipart(t *testing.T) {
	st := s.newStore(t)
	// A non-seekable stream of more than two parts.
	if err := st.Put(t.Context(), "mp/obj", NewStream(9, LargeSize), &store.PutOptions{ContentType: "application/x-parquet"}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	want := Data(9, LargeSize)
	sameBytes(t, "Get", get(t, st, "mp/obj"), want)
	info, err := st.Stat(t.Context(), "mp/obj")
	if err != nil || info.Size != LargeSize {
		t.Fatalf("Stat = %+v, %v; want size %d", info, err, LargeSize)
	}
	// A range across the 5 MiB part boundary.
	const b = 5 << 20
	sameBytes(t, "GetRange across a part boundary", getRange(t, st, "mp/obj", b-100, 200), want[b-100:b+100])
}

func (s suite) testInvalidKeys(t *testing.T) {
	st := s.newStore(t)
	ctx := t.Context()
	for _, key := range []string{"", "/abs", "a//b", "a/", "../escape", "a/../../escape", "./a", "a/./b", "a/..", "..", ".", "back\\slash", "nul\x00byte"} {
		s.run(t, fmt.Sprintf("%q", key), func(t *testing.T) {
			// Every refusal is store.ErrInvalidKey: a permanent error.
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, store.ErrInvalidKey) {
					t.Errorf("%s(%q) = %v, want store.ErrInvalidKey", op, key, err)
				}
			}
			check("Put", st.Put(ctx, key, strings.NewReader("x"), nil))
			rc, err := st.Get(ctx, key)
			if err == nil {
				rc.Close()
			}
			check("Get", err)
			_, err = st.Stat(ctx, key)
			check("Stat", err)
			check("Delete", st.Delete(ctx, key))
		})
	}
	if got := keys(t, st, ""); len(got) != 0 {
		t.Errorf("invalid keys left objects: %q", got)
	}
}

// RunBenchmarks measures Put, Get and a small GetRange on st.
func RunBenchmarks(b *testing.B, st store.Store) {
	for _, size := range []int{1 << 10, 1 << 20} {
		data := Data(11, size)
		key := fmt.Sprintf("bench/%d", size)
		b.Run(fmt.Sprintf("Put/%s", human(size)), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := st.Put(b.Context(), key, bytes.NewReader(data), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Get/%s", human(size)), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				rc, err := st.Get(b.Context(), key)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
	// Swap of a run.json-sized record, as a planner writes it before and
	// after every submission: compare with Put/1KiB.
	b.Run("Swap/1KiB", func(b *testing.B) {
		data := Data(12, 1<<10)
		b.SetBytes(int64(len(data)))
		// The key is new, or left by an earlier round (-count).
		etag := ""
		if info, err := st.Stat(b.Context(), "bench/swap"); err == nil {
			etag = info.ETag
		}
		for b.Loop() {
			var err error
			if etag, err = st.Swap(b.Context(), "bench/swap", bytes.NewReader(data), etag, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetRange/4KiB", func(b *testing.B) {
		b.SetBytes(4 << 10)
		for b.Loop() {
			rc, err := st.GetRange(b.Context(), "bench/1048576", 12345, 4<<10)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
	})
}

func human(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
