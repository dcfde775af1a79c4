package feed

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/klauspost/compress/gzip"

	"github.com/feedbatch/feedbatch/store"
)

// errUnjudgeable marks a guard that cannot learn the live feed's item
// count: the child refuses to publish unless forced.
var errUnjudgeable = errors.New("cannot tell how many items the live feed has")

// reference is what the drop guard compares a new feed with.
type reference struct {
	// Known is false when nothing was ever published (no guard).
	Known bool
	Count int64
	// From says where Count comes from, for the refusal message.
	From string
	// Facts is the live feed's meta.json when it describes the live
	// object; nil when the count was taken otherwise.
	Facts *Meta
}

// guardReference finds the item count of the feed the platform serves
// now. The feed and its meta.json are two writes, and a child can be
// killed between them (or a feed replaced by hand), so meta.json is trusted
// only while it describes the live object: the ETag and size it recorded
// right after publishing are still the object's. Otherwise the live feed's
// items are counted. With no live feed, the last meta.json still guards
// (a platform keeps its products while a fetch fails, so a tiny feed after
// a lost one would still delete them). An error matching errUnjudgeable
// means neither can be read; any other error is worth a retry.
func guardReference(ctx context.Context, st store.Store, shop string, p Platform, log *slog.Logger) (reference, error) {
	key := FeedKey(shop, p)
	info, err := st.Stat(ctx, key)
	live := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return reference{}, fmt.Errorf("stat %s: %w", key, err)
	}
	meta, err := ReadMeta(ctx, st, shop, p.Name())
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	metaErr := err
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound):
	case errors.As(err, &syntax) || errors.As(err, &typ) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
	default:
		return reference{}, err // transient: retry
	}
	switch {
	case !live && metaErr == nil:
		return reference{Known: true, Count: meta.Count, From: "the feed published by run " + meta.RunID}, nil
	case !live && errors.Is(metaErr, store.ErrNotFound):
		return reference{}, nil
	case !live:
		return reference{}, fmt.Errorf("%w: no feed and %v", errUnjudgeable, metaErr)
	case metaErr == nil && meta.ETag != "" && meta.ETag == info.ETag && meta.Bytes == info.Size:
		return reference{Known: true, Count: meta.Count, From: "the feed published by run " + meta.RunID, Facts: &meta}, nil
	}
	why := "its meta.json describes another object"
	if metaErr != nil {
		why = metaErr.Error()
	}
	n, err := countFeed(ctx, st, key, p)
	if err != nil {
		return reference{}, err
	}
	log.Warn("feed meta does not describe the live feed: its items were counted",
		"platform", p.Name(), "key", key, "items", n, "why", why)
	return reference{Known: true, Count: n, From: "the live feed (counted: " + why + ")"}, nil
}

// countFeed counts the items of the gzipped feed at key. A failed read of
// the store is returned as is (worth a retry); a feed that does not parse
// gives errUnjudgeable.
func countFeed(ctx context.Context, st store.Store, key string, p Platform) (int64, error) {
	rc, err := st.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("count items of %s: %w", key, err)
	}
	defer rc.Close()
	body := &readErr{r: rc}
	zr, err := gzip.NewReader(body)
	if err == nil {
		var n int64
		n, err = p.CountItems(zr)
		if err == nil {
			return n, nil
		}
	}
	if body.err != nil {
		return 0, fmt.Errorf("count items of %s: %w", key, body.err)
	}
	return 0, fmt.Errorf("%w: %s: %v", errUnjudgeable, key, err)
}

// readErr remembers the error its reader gave, other than io.EOF.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return n, err
}

// eachLine calls fn with every line of r and its "\n" (the last line may
// have none). A line longer than 64 KiB is given by its first 64 KiB only:
// the counters look for short marker lines.
func eachLine(r io.Reader, fn func(line []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if ferr := fn(line); ferr != nil {
				return ferr
			}
		}
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
