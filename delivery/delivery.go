// Package delivery decides what the platforms may fetch from a feedbatch root
// and with which HTTP headers, and serves it (feedbatch serve). The same
// rules are deployed in AWS (cfn/template.yaml: CloudFront in front of the
// data bucket), so a local fetch and a CloudFront fetch look alike:
//
//   - Only published feeds (shops/<id>/feeds/<platform>.<ext>.gz) and
//     processed images (shops/<id>/images/<name>) are served; runs/,
//     catalogs, the registry and a feed's meta.json never are (404).
//   - A feed is a .gz file: Content-Type application/gzip and no
//     Content-Encoding (a client that undoes Content-Encoding would hand the
//     platform's .gz fetcher plain text), revalidated after FeedMaxAge.
//   - An image is content-addressed (its name is its hash), so it is cached
//     for a year and marked immutable.
//
// The headers are decided from the key alone (Headers), by the publishers
// when they write the object (PutOptions: S3 keeps them as object metadata,
// which CloudFront passes through) and by Handler when it serves a store
// that keeps no metadata (filestore).
package delivery

import (
	"os"
	"path"
	"strings"

	"github.com/feedbatch/feedbatch/store"
)

// Kind is what a key is to the platforms.
type Kind int

// The kinds of key.
const (
	// Private keys are never served.
	Private Kind = iota
	// Feed is a published feed.
	Feed
	// Image is a processed image.
	Image
)

// Cache-Control values.
const (
	// FeedCacheControl lets a cache keep a feed 5 minutes, then revalidate
	// it (ETag / Last-Modified): a platform never gets the previous day's
	// feed for longer than that after a publish.
	FeedCacheControl = "public, max-age=300, must-revalidate"
	// ImageCacheControl: processed images are content-addressed.
	ImageCacheControl = "public, max-age=31536000, immutable"
)

// Classify tells whether key may be served, and as what: a feed is exactly
// shops/<id>/feeds/<name>.gz, an image shops/<id>/images/<name>; anything
// else (deeper keys, meta.json, runs/, catalogs, the registry) is Private.
func Classify(key string) Kind {
	if store.CheckKey(key) != nil {
		return Private
	}
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[0] != "shops" || strings.HasPrefix(parts[3], ".") {
		return Private
	}
	switch {
	case parts[2] == "feeds" && strings.HasSuffix(parts[3], ".gz") && len(parts[3]) > len(".gz"):
		return Feed
	case parts[2] == "images":
		if _, ok := imageTypes[strings.ToLower(path.Ext(parts[3]))]; ok {
			return Image
		}
	}
	return Private
}

// imageTypes are the media types of the image file names served; the image
// stage writes JPEG, the rest are the formats Google Merchant Center takes.
var imageTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
	".webp": "image/webp", ".gif": "image/gif",
}

// Headers are the response headers of one served object.
type Headers struct {
	ContentType     string
	ContentEncoding string
	CacheControl    string
}

// HeadersFor returns the headers of key and whether it is served at all.
func HeadersFor(key string) (Headers, bool) {
	switch Classify(key) {
	case Feed:
		return Headers{ContentType: "application/gzip", CacheControl: FeedCacheControl}, true
	case Image:
		return Headers{ContentType: imageTypes[strings.ToLower(path.Ext(key))], CacheControl: ImageCacheControl}, true
	}
	return Headers{}, false
}

// PutOptions are the store options that publish key with its delivery
// headers; nil for a key that is not served.
func PutOptions(key string) *store.PutOptions {
	h, ok := HeadersFor(key)
	if !ok {
		return nil
	}
	return &store.PutOptions{ContentType: h.ContentType, ContentEncoding: h.ContentEncoding, CacheControl: h.CacheControl}
}

// EnvPublicHost names the environment variable holding the public host of
// the delivered files ("d111111abcdef8.cloudfront.net"): in AWS the feed job
// definition sets it to the CloudFront distribution's domain, and the feed
// stage links processed images under https://<host>/ when
// feed.image_base_url is unset. Empty or unset: no default.
const EnvPublicHost = "FEEDBATCH_PUBLIC_HOST"

// PublicBaseURL is "https://<host>/" for the host in EnvPublicHost, or "".
func PublicBaseURL() string {
	h := strings.TrimSpace(os.Getenv(EnvPublicHost))
	if h == "" {
		return ""
	}
	return "https://" + h + "/"
}
