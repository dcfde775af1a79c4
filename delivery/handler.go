package delivery

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/feedbatch/feedbatch/store"
)

// Objects is what Handler needs from a store.
type Objects interface {
	Stat(ctx context.Context, key string) (store.Info, error)
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
}

// Auth is HTTP basic authentication for feeds; the zero value is none.
// Images are never behind it: the platforms' image crawlers send no
// credentials, and image names are content hashes.
type Auth struct {
	User, Password string
}

// Enabled reports whether credentials are required.
func (a Auth) Enabled() bool { return a.User != "" || a.Password != "" }

func (a Auth) allows(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		return false
	}
	// Both compared in constant time, and both always compared.
	uok := subtle.ConstantTimeCompare([]byte(u), []byte(a.User))
	pok := subtle.ConstantTimeCompare([]byte(p), []byte(a.Password))
	return uok&pok == 1
}

// Handler serves the feeds and images of a store (see the package comment):
// GET and HEAD, ETag / If-None-Match (304), Last-Modified /
// If-Modified-Since, and byte ranges, through net/http.ServeContent.
type Handler struct {
	Store Objects
	Auth  Auth
	Log   *slog.Logger
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	key := strings.TrimPrefix(r.URL.Path, "/")
	hdr, ok := HeadersFor(key)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if Classify(key) == Feed && h.Auth.Enabled() && !h.Auth.allows(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="feedbatch feeds", charset="UTF-8"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	info, err := h.Store.Stat(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.log().Error("serve: stat", "key", key, "err", err)
		http.Error(w, "store unavailable", http.StatusBadGateway)
		return
	}
	wh := w.Header()
	wh.Set("Content-Type", hdr.ContentType)
	if hdr.ContentEncoding != "" {
		wh.Set("Content-Encoding", hdr.ContentEncoding)
	}
	wh.Set("Cache-Control", hdr.CacheControl)
	wh.Set("X-Content-Type-Options", "nosniff")
	if info.ETag != "" {
		wh.Set("ETag", quoteETag(info.ETag))
	}
	rs := &lazyReader{ctx: r.Context(), st: h.Store, key: key, size: info.Size}
	defer rs.Close()
	http.ServeContent(w, r, "", info.ModTime, rs)
	if rs.err != nil {
		h.log().Warn("serve: read", "key", key, "err", rs.err)
	}
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Log
}

// quoteETag makes a store's ETag a valid HTTP entity tag.
func quoteETag(e string) string {
	if strings.HasPrefix(e, `"`) || strings.HasPrefix(e, `W/"`) {
		return e
	}
	return `"` + strings.ReplaceAll(e, `"`, "") + `"`
}

// lazyReader is the io.ReadSeeker ServeContent wants over a store object:
// seeking is free, and the first Read after a seek opens one ranged read
// from there to the end, so a whole-object or single-range response is one
// store request (S3: one GetObject), whatever ServeContent's buffer size.
type lazyReader struct {
	ctx  context.Context
	st   Objects
	key  string
	size int64
	pos  int64
	rc   io.ReadCloser
	err  error // the first read error, for the log
}

func (l *lazyReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += l.pos
	case io.SeekEnd:
		off += l.size
	default:
		return 0, fmt.Errorf("seek: bad whence %d", whence)
	}
	if off < 0 {
		return 0, fmt.Errorf("seek: negative position %d", off)
	}
	if off != l.pos {
		l.Close()
		l.pos = off
	}
	return off, nil
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.pos >= l.size {
		return 0, io.EOF
	}
	if l.rc == nil {
		rc, err := l.st.GetRange(l.ctx, l.key, l.pos, l.size-l.pos)
		if err != nil {
			l.err = err
			return 0, err
		}
		l.rc = rc
	}
	n, err := l.rc.Read(p)
	l.pos += int64(n)
	if err != nil && err != io.EOF && l.err == nil {
		l.err = err
	}
	return n, err
}

func (l *lazyReader) Close() error {
	if l.rc == nil {
		return nil
	}
	err := l.rc.Close()
	l.rc = nil
	return err
}
