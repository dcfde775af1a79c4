package report

import (
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/store/s3store"
)

// TestS3 writes the report to a real S3 API server and reads it back as a
// browser would get it from S3: the whole page, served as HTML.
func TestS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an S3 server")
	}
	ctx := t.Context()
	srv := s3test.Start(t)
	st, err := s3store.New(ctx, s3store.Config{
		Bucket: srv.Bucket, Prefix: "prod", Region: srv.Region, Endpoint: srv.Endpoint,
		PathStyle: true, Credentials: srv.Credentials(),
	})
	if err != nil {
		t.Fatal(err)
	}
	fixture(t, ctx, st, 20)
	key, err := Write(ctx, st, testRun)
	if err != nil {
		t.Fatal(err)
	}
	out, err := srv.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String("prod/" + key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := aws.ToString(out.ContentType); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want text/html", ct)
	}
	if !strings.Contains(string(b), "feedbatch run "+testRun) || !strings.HasSuffix(strings.TrimSpace(string(b)), "</html>") {
		t.Errorf("page read back from S3 is not the whole report (%d bytes)", len(b))
	}
	rep, err := Build(ctx, st, testRun, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Totals[1].Counts[Failed] != 2 {
		t.Errorf("feed failed %d, want 2 (results read over S3)", rep.Totals[1].Counts[Failed])
	}
}
