// Package s3store implements store.Store on Amazon S3 or an S3-compatible
// server, with aws-sdk-go-v2.
//
// Uploads stream through the SDK's transfer manager: bodies smaller than one
// part go up as a single PutObject, larger ones as a multipart upload with at
// most Concurrency+1 part buffers in memory, whatever the size of the body
// and whether or not it can seek. S3 publishes an object only when PutObject
// or CompleteMultipartUpload succeeds, so readers never see a partial object,
// and a failed or cancelled upload is aborted. IfAbsent is If-None-Match: *
// (also sent on CompleteMultipartUpload).
//
// The transfer manager is still a v0.x module; it is used only in upload.go.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/feedbatch/feedbatch/store"
)

// Defaults for Config.
const (
	DefaultRegion      = "us-east-1"
	DefaultPartSize    = 16 << 20
	DefaultConcurrency = 4
	// MinPartSize is the smallest part S3 accepts (except for the last part).
	MinPartSize = 5 << 20
)

// Config selects a bucket and tunes the client.
type Config struct {
	Bucket string
	// Prefix is prepended (with a "/") to every key; empty for none.
	Prefix string
	// Region defaults to DefaultRegion.
	Region string
	// Endpoint is the base URL of an S3-compatible server
	// ("http://127.0.0.1:7070"); empty for AWS.
	Endpoint string
	// PathStyle puts the bucket in the URL path instead of the host name;
	// most S3-compatible servers need it.
	PathStyle bool
	// PartSize is the multipart part size (at least MinPartSize); bodies
	// smaller than this go up in one request. Defaults to DefaultPartSize.
	PartSize int64
	// Concurrency is the number of parts uploaded at once. Memory use of one
	// Put is at most (Concurrency+1)*PartSize. Defaults to DefaultConcurrency.
	Concurrency int
	// Credentials overrides the standard AWS credential chain (environment,
	// shared config, container and instance roles) when not nil.
	Credentials aws.CredentialsProvider
	// HTTPClient overrides the SDK's HTTP client when not nil.
	HTTPClient *http.Client
	// Log receives the SDK's own messages (such as "falling back to IMDSv1")
	// at debug level, instead of the SDK printing them to stderr; nil
	// discards them.
	Log *slog.Logger
}

// Store is a store.Store on one bucket and prefix. It is safe for concurrent
// use.
type Store struct {
	client *s3.Client
	up     *uploader
	bucket string
	prefix string // "" or ending in "/"
}

var _ store.Store = (*Store)(nil)

// New builds a client from cfg. It does not contact the server.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3store: no bucket")
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if err := store.CheckKey(prefix); err != nil {
			return nil, fmt.Errorf("s3store: prefix: %w", err)
		}
		prefix += "/"
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3store: part size %d below the S3 minimum %d", cfg.PartSize, MinPartSize)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithRetryer(func() aws.Retryer {
			// The client-side retry token bucket would turn a burst of
			// throttling into hard failures for a whole shard; Batch
			// children retry on their own schedule instead.
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.RateLimiter = ratelimit.None
				o.MaxAttempts = 5
			})
		}),
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	opts = append(opts, config.WithLogger(logging.LoggerFunc(func(cls logging.Classification, format string, v ...any) {
		if cfg.Log != nil {
			cfg.Log.Debug(fmt.Sprintf(format, v...), "source", "aws-sdk", "class", string(cls))
		}
	})))
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3store: aws config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	return &Store{
		client: client,
		up:     newUploader(client, cfg.PartSize, cfg.Concurrency),
		bucket: cfg.Bucket,
		prefix: prefix,
	}, nil
}

// Client is the underlying S3 client (for tests and tools).
func (s *Store) Client() *s3.Client { return s.client }

func (s *Store) path(key string) *string { return aws.String(s.prefix + key) }

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := store.CheckKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: s.path(key)})
	if err != nil {
		return nil, s.keyErr("get", key, err)
	}
	return out.Body, nil
}

// GetRange implements store.Store. A range past the end is cut at the end.
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := store.CheckKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("get %s: negative offset %d", key, offset)
	}
	if length == 0 {
		if _, err := s.Stat(ctx, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	rng := fmt.Sprintf("bytes=%d-", offset)
	if length > 0 {
		rng = fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)
	}
	// A part of an object cannot be checked against a whole-object checksum;
	// S3 sends none for ranges, but some compatible servers do.
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: s.path(key), Range: &rng}, noRangeChecksum)
	if err != nil {
		if isInvalidRange(err) {
			// The object exists but starts before offset.
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, s.keyErr("get "+rng+" of", key, err)
	}
	return out.Body, nil
}

func noRangeChecksum(o *s3.Options) {
	o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
}

// Stat implements store.Store.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	if err := store.CheckKey(key); err != nil {
		return store.Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: s.path(key)})
	if err != nil {
		return store.Info{}, s.keyErr("stat", key, err)
	}
	return store.Info{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		ETag:    aws.ToString(out.ETag),
	}, nil
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts *store.PutOptions) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	if opts == nil {
		opts = &store.PutOptions{}
	}
	if _, err := s.up.upload(ctx, s.bucket, s.prefix+key, r, opts, ""); err != nil {
		return fmt.Errorf("put %s: %w", key, mapErr(err))
	}
	return nil
}

// Swap implements store.Store with S3's conditional writes: If-Match: etag,
// or If-None-Match: * for ifMatch "" (on the single PutObject or on
// CompleteMultipartUpload).
func (s *Store) Swap(ctx context.Context, key string, r io.Reader, ifMatch string, opts *store.PutOptions) (string, error) {
	if err := store.CheckKey(key); err != nil {
		return "", err
	}
	o := store.PutOptions{}
	if opts != nil {
		o = *opts
	}
	o.IfAbsent = ifMatch == ""
	etag, err := s.up.upload(ctx, s.bucket, s.prefix+key, r, &o, ifMatch)
	if err != nil {
		// A failed If-Match (412), a concurrent conditional write (409) and
		// a key deleted meanwhile (404) all mean: not the expected object.
		var me *mappedErr
		if errors.As(mapErr(err), &me) {
			return "", fmt.Errorf("swap %s: %w", key, &mappedErr{store.ErrChanged, me.code, err})
		}
		return "", fmt.Errorf("swap %s: %w", key, err)
	}
	if etag == "" {
		return "", fmt.Errorf("swap %s: the server returned no ETag", key)
	}
	return etag, nil
}

// List implements store.Store. S3 lists keys in UTF-8 byte order, which is
// Go's string order.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.bucket,
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, mapErr(err))
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if err := fn(store.Info{
				Key:     key,
				Size:    aws.ToInt64(o.Size),
				ModTime: aws.ToTime(o.LastModified),
				ETag:    aws.ToString(o.ETag),
			}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements store.Store. S3 deletes missing keys silently, so the
// key is checked first; a concurrent Delete of the same key may thus both
// succeed.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.Stat(ctx, key); err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: s.path(key)}); err != nil {
		return s.keyErr("delete", key, err)
	}
	return nil
}

// keyErr is the error of operation op on key: a store.NotFoundError (key
// and root, once) for a missing key, else op and key before the mapped
// error.
func (s *Store) keyErr(op, key string, err error) error {
	m := mapErr(err)
	if errors.Is(m, store.ErrNotFound) {
		return &store.NotFoundError{Key: key, Root: s.rootURL(), Err: err}
	}
	return fmt.Errorf("%s %s: %w", op, key, m)
}

// rootURL is s3://bucket/prefix of the store.
func (s *Store) rootURL() string {
	return strings.TrimSuffix("s3://"+s.bucket+"/"+s.prefix, "/")
}

// mapErr turns S3's "no such key" into store.ErrNotFound and a failed
// If-None-Match into store.ErrExists, keeping the original error in the
// chain.
func mapErr(err error) error {
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	switch code {
	case "NoSuchKey", "NotFound":
		return &mappedErr{store.ErrNotFound, code, err}
	case "PreconditionFailed", "ConditionalRequestConflict":
		return &mappedErr{store.ErrExists, code, err}
	case "NoSuchBucket":
		return err
	}
	switch status := httpStatus(err); status {
	case http.StatusNotFound:
		return &mappedErr{store.ErrNotFound, http.StatusText(status), err}
	case http.StatusPreconditionFailed:
		return &mappedErr{store.ErrExists, http.StatusText(status), err}
	}
	return err
}

// mappedErr is a store sentinel with the S3 error behind it, printed on one
// short line.
type mappedErr struct {
	sentinel error
	code     string
	err      error
}

func (e *mappedErr) Error() string   { return fmt.Sprintf("%v (S3 %s)", e.sentinel, e.code) }
func (e *mappedErr) Unwrap() []error { return []error{e.sentinel, e.err} }

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isInvalidRange(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "InvalidRange" {
		return true
	}
	return httpStatus(err) == http.StatusRequestedRangeNotSatisfiable
}
