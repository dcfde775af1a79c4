package feed

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/filestore"
)

// TestMain shares one S3 server among the package's tests.
func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

// errKilled stands for the child being killed: nothing after it is written.
var errKilled = errors.New("child killed")

// killedAfterFeed is a store whose process dies right after a feed's Put:
// the Put that follows it (the meta.json) never happens.
type killedAfterFeed struct{ store.Store }

func (k killedAfterFeed) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) error {
	if strings.HasSuffix(key, ".meta.json") {
		panic(errKilled)
	}
	return k.Store.Put(ctx, key, r, opts)
}

// runKilled runs the stage on st and expects it to die at errKilled.
func runKilled(t *testing.T, job stages.Job) {
	t.Helper()
	defer func() {
		if r := recover(); r != errKilled {
			t.Fatalf("stage was not killed between the feed and its meta.json (recovered %v)", r)
		}
	}()
	New().Run(t.Context(), job)
}

func stores() []struct {
	name string
	st   func(t *testing.T) store.Store
} {
	return []struct {
		name string
		st   func(t *testing.T) store.Store
	}{
		{"filestore", func(t *testing.T) store.Store {
			s, err := filestore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"s3store", func(t *testing.T) store.Store { return s3test.NewStore(t) }},
	}
}

// TestKilledBetweenFeedAndMeta: a child killed after publishing a feed and
// before its meta.json leaves the previous run's facts beside the new feed.
// The next run's guard must judge against the live feed (what the platform
// fetches), not those facts, in both directions: a drop the stale facts
// would let through is refused, and a change they would refuse is
// published.
func TestKilledBetweenFeedAndMeta(t *testing.T) {
	for _, s := range stores() {
		t.Run(s.name, func(t *testing.T) {
			for _, tc := range []struct {
				name                   string
				published, killed, nxt int
				wantRefused            bool
			}{
				// Facts say 10, the live feed has 100: 40 is a 60% drop.
				{"stale facts lower", 10, 100, 40, true},
				// Facts say 100, the live feed has 60: 45 is a 25% drop.
				{"stale facts higher", 100, 60, 45, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					st := s.st(t)
					writeCatalog(t, st, "s1", "r1", many(tc.published))
					if _, err := New().Run(t.Context(), newJob(t, st, "r1", "google")); err != nil {
						t.Fatal(err)
					}
					writeCatalog(t, st, "s1", "r2", many(tc.killed))
					runKilled(t, newJob(t, killedAfterFeed{st}, "r2", "google"))
					if m, err := ReadMeta(t.Context(), st, "s1", "google"); err != nil || m.Count != int64(tc.published) {
						t.Fatalf("after the kill the facts are %+v, %v; want the first run's %d", m, err, tc.published)
					}
					live := get(t, st, "shops/s1/feeds/google.xml.gz")

					writeCatalog(t, st, "s1", "r3", many(tc.nxt))
					_, err := New().Run(t.Context(), newJob(t, st, "r3", "google"))
					if tc.wantRefused {
						if !errors.Is(err, ErrGuard) || !strings.Contains(err.Error(), "100 in the live feed (counted") {
							t.Fatalf("err = %v, want a guard refusal against the live feed's 100 items", err)
						}
						if !bytes.Equal(live, get(t, st, "shops/s1/feeds/google.xml.gz")) {
							t.Error("refused feed replaced the live one")
						}
						return
					}
					if err != nil {
						t.Fatalf("err = %v, want the feed published (%d of the live %d items)", err, tc.nxt, tc.killed)
					}
					m, err := ReadMeta(t.Context(), st, "s1", "google")
					if err != nil || m.Count != int64(tc.nxt) || m.RunID != "r3" {
						t.Errorf("facts after publishing: %+v, %v", m, err)
					}
					// Facts and feed agree again: the guard trusts the facts.
					ref, err := guardReference(t.Context(), st, "s1", &google{}, slog.New(slog.DiscardHandler))
					if err != nil || ref.Count != int64(tc.nxt) || ref.From != "the feed published by run r3" {
						t.Errorf("reference after publishing = %+v, %v", ref, err)
					}
				})
			}
		})
	}
}

// TestGuardReference covers the other ways facts and feed can disagree.
func TestGuardReference(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, s := range stores() {
		t.Run(s.name, func(t *testing.T) {
			st := s.st(t)
			ctx := t.Context()
			if ref, err := guardReference(ctx, st, "s1", &google{}, log); err != nil || ref.Known {
				t.Fatalf("nothing published: %+v, %v", ref, err)
			}
			writeCatalog(t, st, "s1", "r1", many(30))
			if _, err := New().Run(ctx, newJob(t, st, "r1", "google")); err != nil {
				t.Fatal(err)
			}
			put := func(key string, b []byte) {
				t.Helper()
				if err := st.Put(ctx, key, bytes.NewReader(b), nil); err != nil {
					t.Fatal(err)
				}
			}
			feed, meta := get(t, st, "shops/s1/feeds/google.xml.gz"), get(t, st, MetaKey("s1", "google"))

			// Facts written before ETags were recorded: counted once.
			put(MetaKey("s1", "google"), bytes.Replace(meta, []byte(`"etag"`), []byte(`"old_etag"`), 1))
			if ref, err := guardReference(ctx, st, "s1", &google{}, log); err != nil || ref.Count != 30 || !strings.HasPrefix(ref.From, "the live feed (counted") {
				t.Errorf("facts without an ETag: %+v, %v", ref, err)
			}
			// Unreadable facts beside a live feed: counted.
			put(MetaKey("s1", "google"), []byte("{not json"))
			if ref, err := guardReference(ctx, st, "s1", &google{}, log); err != nil || ref.Count != 30 {
				t.Errorf("unreadable facts: %+v, %v", ref, err)
			}
			// No facts at all beside a live feed: counted.
			if err := st.Delete(ctx, MetaKey("s1", "google")); err != nil {
				t.Fatal(err)
			}
			if ref, err := guardReference(ctx, st, "s1", &google{}, log); err != nil || ref.Count != 30 {
				t.Errorf("no facts: %+v, %v", ref, err)
			}
			// A live feed that does not parse, and no facts: cannot judge.
			put("shops/s1/feeds/google.xml.gz", feed[:len(feed)/2])
			if _, err := guardReference(ctx, st, "s1", &google{}, log); !errors.Is(err, errUnjudgeable) {
				t.Errorf("truncated feed: err = %v, want errUnjudgeable", err)
			}
			// The feed is gone: the last facts still guard.
			put(MetaKey("s1", "google"), meta)
			if err := st.Delete(ctx, "shops/s1/feeds/google.xml.gz"); err != nil {
				t.Fatal(err)
			}
			if ref, err := guardReference(ctx, st, "s1", &google{}, log); err != nil || ref.Count != 30 || ref.From != "the feed published by run r1" {
				t.Errorf("feed gone: %+v, %v", ref, err)
			}
		})
	}
}

// TestCountItems: every platform counts exactly the items it wrote, and
// refuses what it did not write.
func TestCountItems(t *testing.T) {
	for name, ps := range map[string][]catalog.Product{"sample": sample(), "hostile": hostile(), "many": many(300)} {
		gz, outs := render(t, ps)
		for plat, o := range outs {
			p := o.Platform
			n, err := p.CountItems(bytes.NewReader(gunzip(t, gz[plat])))
			if err != nil || n != o.Items {
				t.Errorf("%s %s: CountItems = %d, %v; wrote %d", name, plat, n, err, o.Items)
			}
			if _, err := p.CountItems(strings.NewReader("garbage\n")); err == nil {
				t.Errorf("%s: CountItems of garbage: no error", plat)
			}
		}
	}
	// A truncated Google feed is no feed.
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte("<?xml version=\"1.0\"?>\n<rss>\n<channel>\n<item>\n"))
	zw.Close()
	if _, err := (&google{}).CountItems(bytes.NewReader(gunzip(t, b.Bytes()))); err == nil {
		t.Error("truncated Google feed counted")
	}
}
