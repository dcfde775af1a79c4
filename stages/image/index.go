package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"time"

	"github.com/feedbatch/feedbatch/store"
)

// IndexVersion is the "v" of every index line this build writes.
const IndexVersion = 1

// Entry is one processed image: where it came from and where it is.
//
// The index is stored at IndexKey(shopID) as gzip'd JSON Lines, one Entry per
// line, sorted by URL (deterministic: an unchanged shop rewrites nothing):
//
//	{"v":1,"url":"https://shop.example/a.jpg","key":"shops/s1/images/3f..c2.jpg","spec":"800x800-q85-ffffff-v4",
//	 "etag":"\"abc\"","last_modified":"Mon, 23 Nov 2026 10:00:00 GMT","source_sha256":"9b..",
//	 "source_format":"jpeg","source_width":2000,"source_height":1500,"source_bytes":812345,
//	 "width":800,"height":800,"bytes":91234,"processed_at":"2026-11-23T04:01:02Z"}
//
// The index lists exactly the image URLs of the shop's current catalog that
// have a processed image; images that failed are absent (their reasons are in
// the stage's result record), except that a transient failure (timeout, 5xx)
// keeps the previous run's entry.
type Entry struct {
	V   int    `json:"v"`
	URL string `json:"url"`
	// Key is the store key of the processed JPEG (content-addressed by source
	// bytes and Spec).
	Key string `json:"key"`
	// Spec is the canonical spec the image was made for (imgproc.Spec.String).
	Spec string `json:"spec"`
	// ETag and LastModified are the source's validators, for conditional GETs.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	SourceSHA256 string `json:"source_sha256"`
	SourceFormat string `json:"source_format"`
	SourceWidth  int    `json:"source_width"`
	SourceHeight int    `json:"source_height"`
	SourceBytes  int64  `json:"source_bytes"`
	// Width, Height and Bytes describe the processed JPEG.
	Width  int   `json:"width"`
	Height int   `json:"height"`
	Bytes  int64 `json:"bytes"`
	// ProcessedAt is when Key was first produced for this URL (kept on reuse).
	ProcessedAt time.Time `json:"processed_at"`
}

// ErrBadIndex is returned (wrapped) by LoadIndex when the stored index
// cannot be parsed. Check with errors.Is.
var ErrBadIndex = errors.New("image: bad index")

// Index maps image source URLs to processed images. The whole index is held
// in memory (about 400 bytes per image: 100k images is ~40 MB).
type Index struct {
	Entries map[string]Entry
	// digest is the sha256 of the stored object this index was read from.
	digest [32]byte
}

// IndexKey is the store key of a shop's image index.
func IndexKey(shopID string) string { return path.Join("shops", shopID, "images", "index.jsonl.gz") }

// ImageKey is the store key of a processed image: a hash of the source's
// sha256 and the canonical spec, so identical source bytes and spec always
// give the same key (and the same bytes, processing being deterministic).
func ImageKey(shopID, sourceSHA256, spec string) string {
	h := sha256.Sum256([]byte("feedbatch-image\n" + spec + "\n" + sourceSHA256))
	return path.Join("shops", shopID, "images", hex.EncodeToString(h[:16])+".jpg")
}

// Lookup returns the entry for a source URL.
func (ix *Index) Lookup(url string) (Entry, bool) {
	e, ok := ix.Entries[url]
	return e, ok
}

// Len is the number of entries.
func (ix *Index) Len() int { return len(ix.Entries) }

// LoadIndex reads a shop's image index. A shop without one gets an empty
// index and no error.
func LoadIndex(ctx context.Context, st store.Store, shopID string) (*Index, error) {
	key := IndexKey(shopID)
	ix := &Index{Entries: map[string]Entry{}}
	rc, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return ix, nil
	}
	if err != nil {
		return nil, fmt.Errorf("image index %s: %w", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	if err := readIndex(ctx, io.TeeReader(rc, h), ix.Entries); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("image index %s: %w: %w", key, ErrBadIndex, err)
	}
	h.Sum(ix.digest[:0])
	return ix, nil
}

func readIndex(ctx context.Context, r io.Reader, into map[string]Entry) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if line%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if e.V != IndexVersion {
			return fmt.Errorf("line %d: index version %d, this build reads %d", line, e.V, IndexVersion)
		}
		into[e.URL] = e
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// Drain the rest so the gzip checksum is verified.
	_, err = io.Copy(io.Discard, zr)
	return err
}

// encode writes the index deterministically: gzip without name or time,
// entries sorted by URL.
func (ix *Index) encode() ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	urls := make([]string, 0, len(ix.Entries))
	for u := range ix.Entries {
		urls = append(urls, u)
	}
	slices.Sort(urls)
	for _, u := range urls {
		e := ix.Entries[u]
		e.V = IndexVersion
		if err := enc.Encode(e); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// save stores the index unless it is byte-identical to the one it was
// loaded as (old may be nil). It reports whether it wrote and how many bytes.
func (ix *Index) save(ctx context.Context, st store.Store, shopID string, old *Index) (bool, int64, error) {
	b, err := ix.encode()
	if err != nil {
		return false, 0, fmt.Errorf("encode image index: %w", err)
	}
	if old != nil && old.digest == sha256.Sum256(b) {
		return false, 0, nil
	}
	key := IndexKey(shopID)
	if err := st.Put(ctx, key, bytes.NewReader(b), &store.PutOptions{ContentType: "application/gzip"}); err != nil {
		return false, 0, fmt.Errorf("write image index %s: %w", key, err)
	}
	return true, int64(len(b)), nil
}
