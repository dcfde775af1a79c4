// Package source fetches a shop's catalog bytes from its source URL:
// http(s):// with the project's SSRF-safe client (internal/safehttp),
// retries (internal/retry) and conditional GET, s3://
// (any bucket, through the project's S3 store), and file://. PostgreSQL
// sources are rows, not bytes: see OpenSQL.
package source

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/feedbatch/feedbatch/internal/retry"
	"github.com/feedbatch/feedbatch/internal/safehttp"
	"github.com/feedbatch/feedbatch/internal/secret"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/s3store"
)

// Environment variables read by the S3 source (the same the store uses) and
// by the HTTP allow-list.
const (
	EnvS3Endpoint  = "FEEDBATCH_S3_ENDPOINT"
	EnvS3PathStyle = "FEEDBATCH_S3_PATH_STYLE"
	EnvAWSRegion   = "AWS_REGION"
	// EnvAllowNets lists CIDR prefixes (comma separated) that HTTP sources may
	// reach although they are private or loopback ("127.0.0.1/32" for a local
	// test server). Empty: only public addresses.
	EnvAllowNets = "FEEDBATCH_COLLECT_ALLOW_NETS"
)

// Validators identify one version of a source: what conditional GET sends
// back, and what an unchanged source is recognised by.
type Validators struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// Empty reports whether v names no version.
func (v Validators) Empty() bool { return v.ETag == "" && v.LastModified == "" }

// Fetched is an open source.
type Fetched struct {
	// Body is nil when NotModified.
	Body io.ReadCloser
	// Validators of what Body holds (empty if the source gives none).
	Validators Validators
	// NotModified: the source is the version prev named; Body is nil.
	NotModified bool
}

// Fetcher opens sources. The zero value works with the defaults.
type Fetcher struct {
	// Client for http(s) sources; nil means NewHTTPClient(AllowNets).
	Client *http.Client
	// AllowNets are private prefixes HTTP sources may reach anyway.
	AllowNets []netip.Prefix
	// Attempts per HTTP request (network errors, 429 and 5xx are retried);
	// 0 means 4.
	Attempts int
	// Backoff is the first retry's delay, doubled each time (with jitter);
	// 0 means 1 s.
	Backoff time.Duration
	// Log receives retry messages; nil discards them.
	Log *slog.Logger
	// IdleTimeout ends an HTTP body read that makes no progress for this
	// long (a retryable error); 0 means 2 minutes.
	IdleTimeout time.Duration
	// Secrets resolves the credential references of source URLs
	// (${env:NAME}, ${secretsmanager:NAME}, ${ssm:/path}); nil means a
	// secret.Resolver reading the environment and the standard AWS
	// configuration.
	Secrets Resolver
}

// Resolver replaces credential references by their values
// (secret.Resolver).
type Resolver interface {
	Resolve(ctx context.Context, s string) (string, error)
}

// resolve returns rawURL with its credentials resolved, for the request
// only: validators, messages and logs keep rawURL.
func resolve(ctx context.Context, r Resolver, rawURL string) (string, error) {
	if r == nil {
		r = &secret.Resolver{}
	}
	v, err := r.Resolve(ctx, rawURL)
	if err != nil {
		if errors.Is(err, secret.ErrReference) {
			return "", stages.Permanentf("source %s: %v", Redact(rawURL), err)
		}
		return "", fmt.Errorf("source %s: %w", Redact(rawURL), err)
	}
	return v, nil
}

// idleBody cancels its request when no bytes arrive for d.
type idleBody struct {
	rc     io.ReadCloser
	d      time.Duration
	t      *time.Timer
	cancel context.CancelFunc
	fired  atomic.Bool
}

func newIdleBody(rc io.ReadCloser, d time.Duration, cancel context.CancelFunc) *idleBody {
	b := &idleBody{rc: rc, d: d, cancel: cancel}
	b.t = time.AfterFunc(d, func() { b.fired.Store(true); cancel() })
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.t.Reset(b.d)
	}
	if err != nil && !errors.Is(err, io.EOF) && b.fired.Load() {
		err = fmt.Errorf("no data for %s: %w", b.d, err)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.t.Stop()
	err := b.rc.Close()
	b.cancel()
	return err
}

// NewHTTPClient returns the safehttp client for sources: any port, the
// allow-listed private prefixes let through, at most 5 redirects, and
// patient timeouts (a catalog export may take minutes to start).
func NewHTTPClient(allow []netip.Prefix) *http.Client {
	return safehttp.New(safehttp.Config{
		AnyPort:             true,
		Allow:               allow,
		MaxRedirects:        5,
		DialTimeout:         30 * time.Second,
		TLSHandshakeTimeout: 15 * time.Second,
		HeaderTimeout:       2 * time.Minute,
		MaxIdleConns:        4,
	})
}

// Redact is secret.Redact: raw without its credentials, for messages.
func Redact(raw string) string { return secret.Redact(raw) }

// Fetch opens rawURL. If prev names a version of the same URL, the source
// is asked whether it changed (HTTP If-None-Match / If-Modified-Since, the
// S3 ETag, a file's size and modification time), and NotModified is set
// when it has not. Errors that retrying cannot fix (404, 410, other 4xx, a
// missing file or key, a refused address, a bad URL) are stages.Permanent.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, prev Validators) (*Fetched, error) {
	resolved, err := resolve(ctx, f.Secrets, rawURL)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(resolved)
	if err != nil {
		return nil, stages.Permanentf("source URL %s: %v", Redact(rawURL), secret.Error(err))
	}
	if prev.URL != rawURL {
		prev = Validators{}
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return f.fetchHTTP(ctx, u, rawURL, prev)
	case "file":
		return fetchFile(u, rawURL, prev)
	case "s3":
		return fetchS3(ctx, u, rawURL, prev)
	case "":
		if strings.HasPrefix(rawURL, "/") { // an absolute local path
			return fetchFile(&url.URL{Scheme: "file", Path: resolved}, rawURL, prev)
		}
		return nil, stages.Permanentf("source URL %q has no scheme (want http://, https://, s3://, file:// or postgres://)", Redact(rawURL))
	}
	return nil, stages.Permanentf("source URL scheme %q not supported (want http://, https://, s3://, file:// or postgres://)", u.Scheme)
}

func (f *Fetcher) log() *slog.Logger {
	if f.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Log
}

// errRetryable marks a failed request that a later attempt may fix
// (network errors, 429, 5xx).
type errRetryable struct{ err error }

func (e errRetryable) Error() string { return e.err.Error() }
func (e errRetryable) Unwrap() error { return e.err }

func (f *Fetcher) fetchHTTP(ctx context.Context, u *url.URL, rawURL string, prev Validators) (*Fetched, error) {
	client := f.Client
	if client == nil {
		client = NewHTTPClient(f.AllowNets)
	}
	red := Redact(rawURL)
	p := retry.Policy{
		Attempts:  cmp.Or(f.Attempts, 4),
		Base:      cmp.Or(f.Backoff, time.Second),
		Jitter:    0.5,
		Retryable: func(err error) bool { _, ok := errors.AsType[errRetryable](err); return ok },
		OnRetry: func(next int, d time.Duration, err error) {
			f.log().Warn("source fetch retry", "url", red, "attempt", next, "delay", d, "err", err)
		},
	}
	if p.Attempts < 0 {
		p.Attempts = 4
	}
	fetched, err := retry.Do(ctx, p, func(ctx context.Context) (*Fetched, error) {
		return f.fetchHTTPOnce(ctx, client, u, rawURL, prev)
	})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if re, ok := errors.AsType[errRetryable](err); ok {
		return nil, fmt.Errorf("%w (after %d attempts)", re.err, p.Attempts)
	}
	return fetched, err
}

// fetchHTTPOnce makes one request. Errors worth another attempt are
// errRetryable; the others are stages.Permanent.
func (f *Fetcher) fetchHTTPOnce(ctx context.Context, client *http.Client, u *url.URL, rawURL string, prev Validators) (*Fetched, error) {
	red := Redact(rawURL)
	rctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, stages.Permanentf("source %s: %v", red, secret.Error(err))
	}
	req.Header.Set("User-Agent", "feedbatch-collect/1")
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, safehttp.ErrRefused) {
			return nil, stages.Permanentf("source %s: refused: the address is private, loopback, link-local or otherwise not public (%v)", red, secret.Error(err))
		}
		if dnsErr, ok := errors.AsType[*net.DNSError](err); ok && dnsErr.IsNotFound {
			return nil, stages.Permanentf("source %s: host %s does not exist", red, dnsErr.Name)
		}
		return nil, errRetryable{fmt.Errorf("source %s: %w", red, secret.Error(err))}
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		resp.Body.Close()
		cancel()
		return &Fetched{NotModified: true, Validators: prev}, nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		idle := cmp.Or(f.IdleTimeout, 2*time.Minute)
		return &Fetched{Body: newIdleBody(resp.Body, idle, cancel), Validators: Validators{
			URL:          rawURL,
			ETag:         resp.Header.Get("ETag"),
			LastModified: resp.Header.Get("Last-Modified"),
		}}, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	cancel()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, stages.Permanentf("source %s: HTTP %s: the catalog is not there; check the shop's source URL", red, resp.Status)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, stages.Permanentf("source %s: HTTP %s: access denied; the shop must allow the fetch or give credentials", red, resp.Status)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, errRetryable{fmt.Errorf("source %s: HTTP %s", red, resp.Status)}
	default:
		return nil, stages.Permanentf("source %s: HTTP %s", red, resp.Status)
	}
}

func fetchFile(u *url.URL, rawURL string, prev Validators) (*Fetched, error) {
	path := u.Path
	if u.Host != "" && u.Host != "localhost" {
		return nil, stages.Permanentf("source %s: file URLs must be file:///absolute/path", Redact(rawURL))
	}
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, stages.Permanentf("source %s: no such file", Redact(rawURL))
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", Redact(rawURL), err)
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("source %s: %w", Redact(rawURL), err)
	}
	if fi.IsDir() {
		fh.Close()
		return nil, stages.Permanentf("source %s: is a directory", Redact(rawURL))
	}
	v := Validators{URL: rawURL, ETag: fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano())}
	if prev.ETag == v.ETag {
		fh.Close()
		return &Fetched{NotModified: true, Validators: v}, nil
	}
	return &Fetched{Body: fh, Validators: v}, nil
}

// envBool reads a boolean environment variable.
func envBool(name string) bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(name))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func fetchS3(ctx context.Context, u *url.URL, rawURL string, prev Validators) (*Fetched, error) {
	bucket, key := u.Host, strings.TrimPrefix(u.Path, "/")
	if bucket == "" || key == "" {
		return nil, stages.Permanentf("source %s: want s3://bucket/key", Redact(rawURL))
	}
	region := os.Getenv(EnvAWSRegion)
	if region == "" {
		region = s3store.DefaultRegion
	}
	st, err := s3store.New(ctx, s3store.Config{
		Bucket:    bucket,
		Region:    region,
		Endpoint:  os.Getenv(EnvS3Endpoint),
		PathStyle: envBool(EnvS3PathStyle),
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", Redact(rawURL), err)
	}
	info, err := st.Stat(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, stages.Permanentf("source %s: no such object", Redact(rawURL))
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", Redact(rawURL), err)
	}
	v := Validators{URL: rawURL, ETag: info.ETag}
	if v.ETag != "" && prev.ETag == v.ETag {
		return &Fetched{NotModified: true, Validators: v}, nil
	}
	rc, err := st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, stages.Permanentf("source %s: no such object", Redact(rawURL))
	}
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", Redact(rawURL), err)
	}
	return &Fetched{Body: rc, Validators: v}, nil
}

var errEOF = io.EOF

// ErrTransient marks a source error worth retrying (a dropped database
// connection mid-query, for example). Check with errors.Is.
var ErrTransient = errors.New("transient source error")
