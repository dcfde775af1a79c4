package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/feedbatch/feedbatch/stages/image/fetch"
	"github.com/feedbatch/feedbatch/store"
)

// source gets one image's bytes, conditionally on validators. fetch.Client
// is the network source; mirrors read the same URLs from files or the store.
type source interface {
	Get(ctx context.Context, rawURL string, v fetch.Validators) (fetch.Response, error)
}

// reasonNotFound is the drop reason of an image missing from a mirror.
const reasonNotFound = "not_found"

// mirrorPath maps https://host/a/b.jpg to "host/a/b.jpg": the host name
// lower-cased, the path cleaned so that ".." can never leave the mirror;
// query and fragment are ignored.
func mirrorPath(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", &fetch.Error{URL: rawURL, Reason: fetch.ReasonBadURL, Err: err}
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", &fetch.Error{URL: rawURL, Reason: fetch.ReasonBadURL, Err: errors.New("want an absolute http(s) URL")}
	}
	host := strings.ToLower(u.Hostname())
	if strings.ContainsAny(host, `/\`) || host == "." || host == ".." {
		return "", &fetch.Error{URL: rawURL, Reason: fetch.ReasonBadURL, Err: errors.New("bad host")}
	}
	p := strings.TrimPrefix(path.Clean("/"+u.Path), "/")
	if p == "" {
		return "", &fetch.Error{URL: rawURL, Reason: fetch.ReasonBadURL, Err: errors.New("no path")}
	}
	rel := host + "/" + p
	if strings.ContainsRune(rel, '\\') || store.CheckKey(rel) != nil {
		return "", &fetch.Error{URL: rawURL, Reason: fetch.ReasonBadURL, Err: errors.New("path not usable in a mirror")}
	}
	return rel, nil
}

// dirMirror reads images from a local directory tree <dir>/<host>/<path>.
// Its validator is the file's size and modification time.
type dirMirror struct {
	dir      string
	maxBytes int64
}

func (m dirMirror) Get(ctx context.Context, rawURL string, v fetch.Validators) (fetch.Response, error) {
	rel, err := mirrorPath(rawURL)
	if err != nil {
		return fetch.Response{}, err
	}
	name := filepath.Join(m.dir, filepath.FromSlash(rel))
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: reasonNotFound, Err: err}
		}
		return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: fetch.ReasonNetwork, Transient: true, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: fetch.ReasonNetwork, Transient: true, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: reasonNotFound, Err: errors.New("not a regular file")}
	}
	etag := fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano())
	if v.ETag == etag {
		return fetch.Response{NotModified: true, Validators: fetch.Validators{ETag: etag}}, nil
	}
	return readLimited(rawURL, f, fi.Size(), m.maxBytes, etag)
}

// storeMirror reads images from the store under a key prefix:
// <prefix>/<host>/<path>. Its validator is the object's ETag.
type storeMirror struct {
	st       store.Store
	prefix   string
	maxBytes int64
}

func (m storeMirror) Get(ctx context.Context, rawURL string, v fetch.Validators) (fetch.Response, error) {
	rel, err := mirrorPath(rawURL)
	if err != nil {
		return fetch.Response{}, err
	}
	key := path.Join(m.prefix, rel)
	info, err := m.st.Stat(ctx, key)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: reasonNotFound, Err: err}
		}
		return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: fetch.ReasonNetwork, Transient: true, Err: err}
	}
	etag := info.ETag
	if etag == "" {
		etag = fmt.Sprintf(`"%x-%x"`, info.Size, info.ModTime.UnixNano())
	}
	if v.ETag == etag {
		return fetch.Response{NotModified: true, Validators: fetch.Validators{ETag: etag}}, nil
	}
	if info.Size > m.maxBytes {
		return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: fetch.ReasonTooLarge, Err: fmt.Errorf("%d bytes > limit %d", info.Size, m.maxBytes)}
	}
	rc, err := m.st.Get(ctx, key)
	if err != nil {
		return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: fetch.ReasonNetwork, Transient: true, Err: err}
	}
	defer rc.Close()
	return readLimited(rawURL, rc, info.Size, m.maxBytes, etag)
}

func readLimited(rawURL string, r io.Reader, size, limit int64, etag string) (fetch.Response, error) {
	if size > limit {
		return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: fetch.ReasonTooLarge, Err: fmt.Errorf("%d bytes > limit %d", size, limit)}
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: fetch.ReasonNetwork, Transient: true, Err: err}
	}
	if int64(len(b)) > limit {
		return fetch.Response{}, &fetch.Error{URL: rawURL, Reason: fetch.ReasonTooLarge, Err: fmt.Errorf("more than %d bytes", limit)}
	}
	return fetch.Response{Body: b, Validators: fetch.Validators{ETag: etag}}, nil
}

// newMirror chooses the mirror for the image.mirror option:
//   - file:///abs/dir, file:rel/dir, /abs/dir or ./rel/dir: a local directory;
//   - a URL under the store root (root + "/prefix", e.g.
//     s3://bucket/root/mirror when the root is s3://bucket/root): read
//     through the store;
//   - store:prefix: a key prefix under the store root.
func newMirror(spec, root string, st store.Store, maxBytes int64) (source, error) {
	switch {
	case strings.HasPrefix(spec, "store:"):
		p := strings.Trim(strings.TrimPrefix(spec, "store:"), "/")
		if err := store.CheckKey(p); err != nil {
			return nil, fmt.Errorf("image.mirror %q: %w", spec, err)
		}
		return storeMirror{st: st, prefix: p, maxBytes: maxBytes}, nil
	case root != "" && strings.HasPrefix(spec, strings.TrimSuffix(root, "/")+"/"):
		p := strings.Trim(strings.TrimPrefix(spec, strings.TrimSuffix(root, "/")+"/"), "/")
		if err := store.CheckKey(p); err != nil {
			return nil, fmt.Errorf("image.mirror %q: %w", spec, err)
		}
		return storeMirror{st: st, prefix: p, maxBytes: maxBytes}, nil
	case strings.HasPrefix(spec, "file://"):
		u, err := url.Parse(spec)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return nil, fmt.Errorf("image.mirror %q: want file:///absolute/dir", spec)
		}
		return dirMirror{dir: filepath.FromSlash(u.Path), maxBytes: maxBytes}, nil
	case strings.HasPrefix(spec, "file:"):
		return dirMirror{dir: filepath.FromSlash(strings.TrimPrefix(spec, "file:")), maxBytes: maxBytes}, nil
	case strings.HasPrefix(spec, "/"), strings.HasPrefix(spec, "./"), strings.HasPrefix(spec, "../"):
		return dirMirror{dir: filepath.FromSlash(spec), maxBytes: maxBytes}, nil
	}
	return nil, fmt.Errorf("image.mirror %q: want file:///dir, a directory, store:prefix, or a URL under the store root %q", spec, root)
}
