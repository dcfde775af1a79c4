package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/feedbatch/feedbatch/store"
)

// FeedInfo is one published feed as an operator sees it: where a platform
// fetches it and what the last publish put there.
type FeedInfo struct {
	Shop     string `json:"shop"`
	Platform string `json:"platform"`
	Key      string `json:"key"`
	URL      string `json:"url"`
	// PublishedAt is the meta.json's published_at, else the object's time.
	PublishedAt time.Time `json:"published_at"`
	// Items is the meta.json's item count; -1 when unknown.
	Items int64 `json:"items"`
	// Bytes is the served object's size.
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256,omitempty"`
	RunID  string `json:"run_id,omitempty"`
	// Problem says why the facts are incomplete (no or unreadable meta.json).
	Problem string `json:"problem,omitempty"`
}

// metaFacts is what ListFeeds reads from shops/<id>/feeds/<platform>.meta.json,
// leniently: the stage may add fields, and older files may lack some.
type metaFacts struct {
	Key         string    `json:"key"`
	Count       *int64    `json:"count"`
	Bytes       *int64    `json:"bytes"`
	SHA256      string    `json:"sha256"`
	RunID       string    `json:"run_id"`
	PublishedAt time.Time `json:"published_at"`
}

// ListFeeds lists the published feeds under the root (of one shop if shop
// is not ""), in key order, with their fetch URLs under base (which ends in
// "/"). Facts come from each feed's meta.json; a missing or unreadable one
// is reported in Problem, not as an error.
//
// Without a shop it lists every key under shops/ (the store has no
// delimiter listing): one LIST request per 1,000 keys on S3.
func ListFeeds(ctx context.Context, st store.Store, base, shop string) ([]FeedInfo, error) {
	prefix := "shops/"
	if shop != "" {
		if strings.Contains(shop, "/") || store.CheckKey(shop) != nil {
			return nil, fmt.Errorf("feeds: bad shop id %q", shop)
		}
		prefix = "shops/" + shop + "/feeds/"
	}
	var feeds []FeedInfo
	err := st.List(ctx, prefix, func(in store.Info) error {
		if Classify(in.Key) != Feed {
			return nil
		}
		parts := strings.Split(in.Key, "/")
		platform, _, _ := strings.Cut(parts[3], ".")
		feeds = append(feeds, FeedInfo{
			Shop: parts[1], Platform: platform, Key: in.Key, URL: base + in.Key,
			PublishedAt: in.ModTime.UTC(), Items: -1, Bytes: in.Size,
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feeds: list %s: %w", prefix, err)
	}
	for i := range feeds {
		f := &feeds[i]
		m, err := readFacts(ctx, st, fmt.Sprintf("shops/%s/feeds/%s.meta.json", f.Shop, f.Platform))
		switch {
		case errors.Is(err, store.ErrNotFound):
			f.Problem = "no meta.json"
			continue
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			f.Problem = err.Error()
			continue
		}
		if m.Key != "" && m.Key != f.Key {
			// Another file of the platform (e.g. an old extension): no facts.
			f.Problem = "meta.json describes " + m.Key
			continue
		}
		if m.Count != nil {
			f.Items = *m.Count
		}
		if !m.PublishedAt.IsZero() {
			f.PublishedAt = m.PublishedAt.UTC()
		}
		f.SHA256, f.RunID = m.SHA256, m.RunID
		if m.Bytes != nil && *m.Bytes != f.Bytes {
			f.Problem = fmt.Sprintf("meta.json says %d bytes, the object has %d", *m.Bytes, f.Bytes)
		}
	}
	return feeds, nil
}

func readFacts(ctx context.Context, st store.Store, key string) (metaFacts, error) {
	var m metaFacts
	rc, err := st.Get(ctx, key)
	if err != nil {
		return m, err
	}
	defer rc.Close()
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&m); err != nil {
		return m, fmt.Errorf("unreadable meta.json: %v", err)
	}
	return m, nil
}
