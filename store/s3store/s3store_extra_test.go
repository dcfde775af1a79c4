package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/s3store"
	"github.com/feedbatch/feedbatch/store/storetest"
)

func newStore(t testing.TB, srv s3test.Server, prefix string, partSize int64, concurrency int) *s3store.Store {
	t.Helper()
	st, err := s3store.New(context.Background(), s3store.Config{
		Bucket:      srv.Bucket,
		Prefix:      prefix,
		Region:      srv.Region,
		Endpoint:    srv.Endpoint,
		PathStyle:   true,
		PartSize:    partSize,
		Concurrency: concurrency,
		Credentials: srv.Credentials(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func list(t *testing.T, st store.Store) []string {
	t.Helper()
	var keys []string
	if err := st.List(t.Context(), "", func(in store.Info) error { keys = append(keys, in.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestPrefixIsolation(t *testing.T) {
	srv := s3test.Start(t)
	a := newStore(t, srv, "tenant/a", s3store.MinPartSize, 2)
	ab := newStore(t, srv, "tenant/ab/", s3store.MinPartSize, 2)
	bare := newStore(t, srv, "", s3store.MinPartSize, 2)
	for _, st := range []store.Store{a, ab} {
		if err := st.Put(t.Context(), "k", strings.NewReader("v"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"k"}, list(t, a)); diff != "" {
		t.Errorf("List under tenant/a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"tenant/a/k", "tenant/ab/k"}, list(t, bare)); diff != "" {
		t.Errorf("List of the bucket (-want +got):\n%s", diff)
	}
	if err := a.Delete(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := ab.Stat(t.Context(), "k"); err != nil {
		t.Errorf("Delete in one prefix touched the other: %v", err)
	}
}

func TestMissingBucketIsNotNotFound(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket = "no-such-bucket-here"
	st := newStore(t, srv, "", s3store.MinPartSize, 2)
	_, err := st.Get(t.Context(), "k")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get on a missing bucket: err = %v, want an error that is not ErrNotFound", err)
	}
	if err := st.Put(t.Context(), "k", strings.NewReader("v"), nil); err == nil {
		t.Errorf("Put on a missing bucket succeeded")
	}
}

// TestCanceledMultipartIsAborted: a cancelled large Put leaves no
// in-progress multipart upload (whose parts would be billed forever).
func TestCanceledMultipartIsAborted(t *testing.T) {
	srv := s3test.Start(t)
	st := newStore(t, srv, "p", s3store.MinPartSize, 2)
	ctx, cancel := context.WithCancel(t.Context())
	body := io.MultiReader(storetest.NewStream(1, 3*s3store.MinPartSize), readerFunc(func([]byte) (int, error) {
		cancel()
		return 0, context.Canceled
	}))
	if err := st.Put(ctx, "big", body, nil); err == nil {
		t.Fatal("cancelled Put succeeded")
	}
	out, err := srv.Client().ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &srv.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload left behind: key %s id %s", aws.ToString(u.Key), aws.ToString(u.UploadId))
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestPutMemoryIsBounded streams an object much larger than the part
// buffers and checks that the client's heap stays near
// (Concurrency+1)*PartSize.
func TestPutMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("large upload")
	}
	srv := s3test.Start(t)
	const (
		partSize    = s3store.MinPartSize
		concurrency = 2
		size        = 64 << 20
		limit       = 40 << 20 // 3 parts of 5 MiB, plus the SDK and the test
	)
	st := newStore(t, srv, "", partSize, concurrency)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var (
		mu   sync.Mutex
		peak uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapInuse)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	err := st.Put(t.Context(), "big", storetest.NewStream(3, size), nil)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(peak) - int64(base.HeapInuse)
	t.Logf("%d MiB upload in %d MiB parts: heap grew by %.1f MiB at most", size>>20, partSize>>20, float64(grew)/(1<<20))
	if grew > limit {
		t.Errorf("heap grew by %d MiB during a %d MiB upload, want at most %d MiB", grew>>20, size>>20, limit>>20)
	}
	info, err := st.Stat(t.Context(), "big")
	if err != nil || info.Size != size {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
}

// BenchmarkLargeObject measures the throughput of one 64 MiB object with the
// production part size and concurrency, against the test server.
func BenchmarkLargeObject(b *testing.B) {
	srv := s3test.Start(b)
	st := newStore(b, srv, "bench", s3store.DefaultPartSize, s3store.DefaultConcurrency)
	const size = 64 << 20
	data := storetest.Data(1, size)
	b.Run("Put/64MiB", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if err := st.Put(b.Context(), "large", bytes.NewReader(data), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Get/64MiB", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			rc, err := st.Get(b.Context(), "large")
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

// BenchmarkStore runs the shared store benchmarks against the test server.
func BenchmarkStore(b *testing.B) {
	storetest.RunBenchmarks(b, s3test.NewStore(b))
}
