package feed

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/feedbatch/feedbatch/delivery"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// optsStore records the options of every Put.
type optsStore struct {
	store.Store
	mu   sync.Mutex
	opts map[string]store.PutOptions
}

func (s *optsStore) Put(ctx context.Context, key string, r io.Reader, o *store.PutOptions) error {
	s.mu.Lock()
	if o != nil {
		s.opts[key] = *o
	} else {
		s.opts[key] = store.PutOptions{}
	}
	s.mu.Unlock()
	return s.Store.Put(ctx, key, r, o)
}

// TestPublishHeaders: a feed is published with the headers CloudFront and
// feedbatch serve send (application/gzip, no Content-Encoding, revalidated).
func TestPublishHeaders(t *testing.T) {
	st := &optsStore{Store: memstore.New(), opts: map[string]store.PutOptions{}}
	writeCatalog(t, st, "s1", "r1", sample())
	if _, err := New().Run(t.Context(), newJob(t, st, "r1", "google", "meta")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"shops/s1/feeds/google.xml.gz", "shops/s1/feeds/meta.csv.gz"} {
		want := store.PutOptions{ContentType: "application/gzip", CacheControl: delivery.FeedCacheControl}
		if got := st.opts[key]; got != want {
			t.Errorf("%s published with %+v, want %+v", key, got, want)
		}
	}
}

// TestImageBaseURLDefault: with no feed.image_base_url the feed links the
// processed images on the host the job definition names (CloudFront).
func TestImageBaseURLDefault(t *testing.T) {
	st := memstore.New()
	writeCatalog(t, st, "s1", "r1", many(2))
	stage := withImages(fakeIndex{"https://img.example/0.jpg": "shops/s1/images/abc.jpg"})
	for _, tc := range []struct{ host, option, want string }{
		{"", "", "https://img.example/0.jpg"},
		{"d111.cloudfront.net", "", "https://d111.cloudfront.net/shops/s1/images/abc.jpg"},
		{"d111.cloudfront.net", "https://cdn.example/", "https://cdn.example/shops/s1/images/abc.jpg"},
	} {
		t.Setenv(delivery.EnvPublicHost, tc.host)
		job := newJob(t, st, "r1", "google")
		if tc.option != "" {
			job.Row.Options[OptImageBaseURL] = tc.option
		}
		if _, err := stage.Run(t.Context(), job); err != nil {
			t.Fatal(err)
		}
		feed := gunzip(t, get(t, st, "shops/s1/feeds/google.xml.gz"))
		if !bytes.Contains(feed, []byte("<g:image_link>"+tc.want+"</g:image_link>")) {
			t.Errorf("host %q option %q: feed lacks image_link %s", tc.host, tc.option, tc.want)
		}
	}
}
