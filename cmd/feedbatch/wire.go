package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/filestore"
	"github.com/feedbatch/feedbatch/store/s3store"
)

// Environment of the S3 store (besides the standard AWS credential chain).
const (
	envS3Endpoint  = "FEEDBATCH_S3_ENDPOINT"   // e.g. http://127.0.0.1:7070 for an S3-compatible server
	envS3PathStyle = "FEEDBATCH_S3_PATH_STYLE" // 1 or true: bucket in the path, not the host name
	envAWSRegion   = "AWS_REGION"              // default us-east-1
)

// rootSpec is a parsed storage root.
type rootSpec struct {
	scheme string // "file" or "s3"
	dir    string // file: absolute directory
	bucket string // s3
	prefix string // s3: key prefix without leading or trailing slash
}

func (r rootSpec) String() string {
	if r.scheme == "s3" {
		if r.prefix == "" {
			return "s3://" + r.bucket
		}
		return "s3://" + r.bucket + "/" + r.prefix
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(r.dir)}).String()
}

// parseRoot understands s3://bucket/prefix, file:///abs/dir and a plain
// directory path (relative paths are made absolute).
func parseRoot(root string) (rootSpec, error) {
	if strings.TrimSpace(root) == "" {
		return rootSpec{}, usagef("empty storage root (--root / FEEDBATCH_ROOT)")
	}
	scheme, rest, ok := strings.Cut(root, "://")
	if !ok {
		abs, err := filepath.Abs(root)
		if err != nil {
			return rootSpec{}, fmt.Errorf("root %q: %w", root, err)
		}
		return rootSpec{scheme: "file", dir: abs}, nil
	}
	switch scheme {
	case "s3":
		bucket, prefix, _ := strings.Cut(rest, "/")
		prefix = strings.Trim(prefix, "/")
		if bucket == "" {
			return rootSpec{}, usagef("root %q: no bucket (want s3://bucket/prefix)", root)
		}
		if strings.ContainsAny(bucket, "?#") || strings.ContainsAny(prefix, "?#") {
			return rootSpec{}, usagef("root %q: query or fragment not allowed", root)
		}
		if prefix != "" {
			if err := store.CheckKey(prefix); err != nil {
				return rootSpec{}, usagef("root %q: bad prefix: %v", root, err)
			}
		}
		return rootSpec{scheme: "s3", bucket: bucket, prefix: prefix}, nil
	case "file":
		u, err := url.Parse(root)
		if err != nil {
			return rootSpec{}, usagef("root %q: %v", root, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return rootSpec{}, usagef("root %q: file URL must be file:///absolute/path", root)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return rootSpec{}, usagef("root %q: query or fragment not allowed", root)
		}
		if !strings.HasPrefix(u.Path, "/") {
			return rootSpec{}, usagef("root %q: file URL must be file:///absolute/path", root)
		}
		return rootSpec{scheme: "file", dir: filepath.Clean(filepath.FromSlash(u.Path))}, nil
	default:
		return rootSpec{}, usagef("root %q: unsupported scheme %q (want s3:// or file://)", root, scheme)
	}
}

// absRoot normalises a root to an absolute URL (file:///abs/dir or
// s3://bucket/prefix) that means the same in a child process with another
// working directory; pass it on in FEEDBATCH_ROOT.
func absRoot(root string) (string, error) {
	spec, err := parseRoot(root)
	if err != nil {
		return "", err
	}
	return spec.String(), nil
}

// openStore opens the store at root: s3://bucket/prefix, file:///abs/dir or
// a plain directory path. S3 settings come from FEEDBATCH_S3_ENDPOINT,
// FEEDBATCH_S3_PATH_STYLE, AWS_REGION and the standard AWS credential chain.
func openStore(ctx context.Context, root string) (store.Store, error) {
	return openStoreFor(ctx, root, readWrite)
}

// openStoreFor opens root; for a command that only looks (readOnly) a
// file:// root must exist: nothing is created (a mistyped --root is "not
// found", not a new empty directory).
func openStoreFor(ctx context.Context, root string, acc access) (store.Store, error) {
	spec, err := parseRoot(root)
	if err != nil {
		return nil, err
	}
	switch spec.scheme {
	case "s3":
		return openS3(ctx, spec)
	default:
		if acc == readOnly {
			st, err := filestore.OpenExisting(spec.dir)
			if err != nil {
				return nil, fmt.Errorf("open store: %w", err)
			}
			return st, nil
		}
		st, err := filestore.New(spec.dir)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return st, nil
	}
}

// envBool reads a yes/no environment variable; unset is no.
func envBool(name string) (bool, error) {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv(name))); v {
	case "1", "true", "yes", "on":
		return true, nil
	case "", "0", "false", "no", "off":
		return false, nil
	default:
		return false, usagef("%s=%q: want 1/true or 0/false", name, v)
	}
}

func openS3(ctx context.Context, spec rootSpec) (store.Store, error) {
	region := os.Getenv(envAWSRegion)
	if region == "" {
		region = s3store.DefaultRegion
	}
	pathStyle, err := envBool(envS3PathStyle)
	if err != nil {
		return nil, err
	}
	st, err := s3store.New(ctx, s3store.Config{
		Bucket:    spec.bucket,
		Prefix:    spec.prefix,
		Region:    region,
		Endpoint:  os.Getenv(envS3Endpoint),
		PathStyle: pathStyle,
		Log:       slog.Default(),
	})
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", spec, err)
	}
	return st, nil
}
