package s3store

import (
	"context"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/feedbatch/feedbatch/internal/ctxio"
	"github.com/feedbatch/feedbatch/store"
)

// uploader is the one place that uses the transfer manager (a v0.x module),
// so a breaking change there stays here.
type uploader struct {
	tm *transfermanager.Client
}

func newUploader(client *s3.Client, partSize int64, concurrency int) *uploader {
	return &uploader{tm: transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = partSize
		// One part's worth is read before deciding single vs multipart.
		o.MultipartUploadThreshold = partSize
		o.Concurrency = concurrency
		// Abort a failed multipart upload with a fresh context, so that a
		// cancelled Put does not leave its parts behind.
		o.FailTimeout = 30 * time.Second
	})}
}

// upload streams r to key; ifMatch, when not "", is sent as If-Match. It
// returns the new object's ETag.
func (u *uploader) upload(ctx context.Context, bucket, key string, r io.Reader, opts *store.PutOptions, ifMatch string) (string, error) {
	in := &transfermanager.UploadObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		// Hide any Seek method: the body is always streamed, and reads
		// stop as soon as ctx is done.
		Body: ctxio.Reader(ctx, r),
	}
	if opts.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.ContentEncoding != "" {
		in.ContentEncoding = aws.String(opts.ContentEncoding)
	}
	if opts.CacheControl != "" {
		in.CacheControl = aws.String(opts.CacheControl)
	}
	out, err := u.tm.UploadObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}
