// Package fetch downloads product images through the project's SSRF-safe
// client (internal/safehttp: the destination address of every connection is
// checked at dial time, after DNS and after every redirect; port, scheme and
// redirect limits), with a byte limit, header and total timeouts,
// conditional GETs, and a drop reason for every failure.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/feedbatch/feedbatch/internal/safehttp"
	"github.com/feedbatch/feedbatch/internal/secret"
)

// Reasons name why a fetch failed; they are the drop reasons the image
// stage counts. Error.Reason holds one of them, or "http_<status>".
const (
	ReasonSSRF        = "ssrf_refused"
	ReasonTimeout     = "timeout"
	ReasonTooLarge    = "too_large"
	ReasonBadURL      = "bad_url"
	ReasonRedirects   = "too_many_redirects"
	ReasonNetwork     = "network_error"
	ReasonNotFound    = "http_404"
	reasonHTTPPrefix  = "http_"
	defaultUserAgent  = "feedbatch-image/1"
	defaultMaxBytes   = 20 << 20
	defaultRedirects  = 5
	defaultHeaderWait = 15 * time.Second
	defaultTotalWait  = 60 * time.Second
)

// Error is a failed fetch with the reason it is counted under.
type Error struct {
	URL    string
	Reason string
	// Transient is true when a later attempt may succeed (timeouts, 5xx,
	// network errors).
	Transient bool
	Err       error
}

// Error redacts the URL's credentials (a signed image link's signature),
// also where net/http's error quotes it.
func (e *Error) Error() string {
	return secret.RedactText(fmt.Sprintf("fetch %s: %s: %v", e.URL, e.Reason, e.Err))
}
func (e *Error) Unwrap() error { return e.Err }

// Reason returns the drop reason of err: Error.Reason for fetch errors,
// "" otherwise.
func Reason(err error) string {
	if fe, ok := errors.AsType[*Error](err); ok {
		return fe.Reason
	}
	return ""
}

// Config sets the client's limits. The zero value is the safe default.
type Config struct {
	// Ports allowed at dial time; nil means 80 and 443.
	Ports []uint16
	// AnyPort disables the port check (tests on httptest's random ports).
	AnyPort bool
	// Allow lists prefixes allowed although the guard denies them (tests, or
	// the operator through the image stage's FEEDBATCH_IMAGE_ALLOW_NETS:
	// 127.0.0.1/32). Never set from outside input.
	Allow []netip.Prefix
	// MaxRedirects followed (default 5).
	MaxRedirects int
	// MaxBytes per body (default 20 MB; Google's limit is 16 MB).
	MaxBytes int64
	// HeaderTimeout waits for response headers (default 15 s).
	HeaderTimeout time.Duration
	// TotalTimeout bounds one whole fetch including the body, so that a
	// server trickling bytes cannot hold a worker (default 60 s).
	TotalTimeout time.Duration
	// PerHost bounds connections per host (default 16).
	PerHost int
	// Resolver used to look up names; nil is net.DefaultResolver. Whatever
	// it answers, the address is checked at dial time.
	Resolver *net.Resolver
	// UserAgent sent with every request.
	UserAgent string
}

// Validators are what a previous response said about the resource.
type Validators struct {
	ETag         string
	LastModified string
}

// Response is a completed fetch.
type Response struct {
	// NotModified: the server answered 304 to the conditional GET; Body is nil.
	NotModified bool
	Body        []byte
	Validators  Validators
	// ContentType as the server claimed it (informational only: never trusted).
	ContentType string
}

// Client is an SSRF-safe HTTP client. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a client with cfg's limits (zero fields take the defaults).
func New(cfg Config) *Client {
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = defaultRedirects
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = defaultMaxBytes
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = defaultHeaderWait
	}
	if cfg.TotalTimeout <= 0 {
		cfg.TotalTimeout = defaultTotalWait
	}
	if cfg.PerHost <= 0 {
		cfg.PerHost = 16
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = defaultUserAgent
	}
	c := &Client{cfg: cfg}
	c.http = safehttp.New(safehttp.Config{
		Ports:         cfg.Ports,
		AnyPort:       cfg.AnyPort,
		Allow:         cfg.Allow,
		MaxRedirects:  cfg.MaxRedirects,
		HeaderTimeout: cfg.HeaderTimeout,
		PerHost:       cfg.PerHost,
		Resolver:      cfg.Resolver,
	})
	return c
}

// checkURL accepts absolute http(s) URLs with a host.
func checkURL(u *url.URL) error {
	if err := safehttp.CheckURL(u.Scheme, u.Hostname()); err != nil {
		return &Error{URL: u.Redacted(), Reason: ReasonBadURL, Err: err}
	}
	return nil
}

// Get fetches rawURL, conditionally when v has validators. The body is read
// in full up to MaxBytes; anything larger is refused (too_large).
func (c *Client) Get(ctx context.Context, rawURL string, v Validators) (Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Response{}, &Error{URL: rawURL, Reason: ReasonBadURL, Err: err}
	}
	if err := checkURL(u); err != nil {
		return Response{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.TotalTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Response{}, &Error{URL: rawURL, Reason: ReasonBadURL, Err: err}
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	// No image/* wildcard: a negotiating server should not prefer AVIF/HEIC,
	// which are not decoded here.
	req.Header.Set("Accept", "image/jpeg,image/png,image/webp,image/gif;q=0.9,image/bmp;q=0.5,image/tiff;q=0.5,*/*;q=0.1")
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, classify(ctx, rawURL, err)
	}
	defer resp.Body.Close()
	out := Response{
		Validators:  Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")},
		ContentType: resp.Header.Get("Content-Type"),
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && (v.ETag != "" || v.LastModified != ""):
		out.NotModified = true
		if out.Validators == (Validators{}) {
			out.Validators = v
		}
		return out, nil
	case resp.StatusCode != http.StatusOK:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Response{}, &Error{URL: rawURL, Reason: reasonHTTPPrefix + strconv.Itoa(resp.StatusCode),
			Transient: resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout,
			Err:       fmt.Errorf("status %s", resp.Status)}
	}
	if resp.ContentLength > c.cfg.MaxBytes {
		return Response{}, &Error{URL: rawURL, Reason: ReasonTooLarge, Err: fmt.Errorf("content-length %d > limit %d", resp.ContentLength, c.cfg.MaxBytes)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBytes+1))
	if err != nil {
		return Response{}, classify(ctx, rawURL, err)
	}
	if int64(len(body)) > c.cfg.MaxBytes {
		return Response{}, &Error{URL: rawURL, Reason: ReasonTooLarge, Err: fmt.Errorf("body > limit %d", c.cfg.MaxBytes)}
	}
	out.Body = body
	return out, nil
}

// CloseIdleConnections closes the client's idle keep-alive connections;
// call it when done with the client.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// classify maps a transport error to its reason.
func classify(ctx context.Context, rawURL string, err error) error {
	if fe, ok := errors.AsType[*Error](err); ok {
		return fe
	}
	switch {
	case errors.Is(err, safehttp.ErrRefused):
		return &Error{URL: rawURL, Reason: ReasonSSRF, Err: err}
	case errors.Is(err, safehttp.ErrRedirects):
		return &Error{URL: rawURL, Reason: ReasonRedirects, Err: err}
	case errors.Is(err, safehttp.ErrScheme):
		return &Error{URL: rawURL, Reason: ReasonBadURL, Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		if ctx.Err() != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			return ctx.Err() // the caller's ctx was cancelled
		}
		return &Error{URL: rawURL, Reason: ReasonTimeout, Transient: true, Err: err}
	case errors.Is(err, context.Canceled):
		return err
	}
	return &Error{URL: rawURL, Reason: ReasonNetwork, Transient: true, Err: err}
}

func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}
