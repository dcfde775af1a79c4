package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/filestore"
	"github.com/feedbatch/feedbatch/store/s3store"
)

func TestParseRoot(t *testing.T) {
	cwd, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		root    string
		want    rootSpec
		wantURL string
		wantErr string // substring; "" for success
	}{
		{root: "s3://bucket", want: rootSpec{scheme: "s3", bucket: "bucket"}, wantURL: "s3://bucket"},
		{root: "s3://bucket/", want: rootSpec{scheme: "s3", bucket: "bucket"}, wantURL: "s3://bucket"},
		{root: "s3://bucket/feeds/prod", want: rootSpec{scheme: "s3", bucket: "bucket", prefix: "feeds/prod"}, wantURL: "s3://bucket/feeds/prod"},
		{root: "s3://bucket/feeds/prod/", want: rootSpec{scheme: "s3", bucket: "bucket", prefix: "feeds/prod"}, wantURL: "s3://bucket/feeds/prod"},
		{root: "file:///var/lib/feedbatch", want: rootSpec{scheme: "file", dir: "/var/lib/feedbatch"}, wantURL: "file:///var/lib/feedbatch"},
		{root: "file://localhost/tmp/x/", want: rootSpec{scheme: "file", dir: "/tmp/x"}, wantURL: "file:///tmp/x"},
		{root: "file:///tmp/with%20space", want: rootSpec{scheme: "file", dir: "/tmp/with space"}, wantURL: "file:///tmp/with%20space"},
		{root: "/abs/dir", want: rootSpec{scheme: "file", dir: "/abs/dir"}, wantURL: "file:///abs/dir"},
		{root: "feedbatch-data", want: rootSpec{scheme: "file", dir: filepath.Join(cwd, "feedbatch-data")}, wantURL: "file://" + filepath.Join(cwd, "feedbatch-data")},
		{root: "./a/../b", want: rootSpec{scheme: "file", dir: filepath.Join(cwd, "b")}, wantURL: "file://" + filepath.Join(cwd, "b")},
		{root: "", wantErr: "empty storage root"},
		{root: "  ", wantErr: "empty storage root"},
		{root: "s3://", wantErr: "no bucket"},
		{root: "s3:///prefix", wantErr: "no bucket"},
		{root: "s3://bucket/a/../b", wantErr: "bad prefix"},
		{root: "s3://bucket/a//b", wantErr: "bad prefix"},
		{root: "s3://bucket/p?x=1", wantErr: "query or fragment"},
		{root: "file://relative/dir", wantErr: "file:///absolute/path"},
		{root: "file://", wantErr: "file:///absolute/path"},
		{root: "file:///tmp/x?y", wantErr: "query or fragment"},
		{root: "http://example/x", wantErr: "unsupported scheme"},
		{root: "gs://bucket", wantErr: "unsupported scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.root, func(t *testing.T) {
			got, err := parseRoot(tc.root)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseRoot(%q) err = %v, want one containing %q", tc.root, err, tc.wantErr)
				}
				if exitCode(err) != exitUsage {
					t.Errorf("parseRoot(%q): exit code %d, want usage (%d)", tc.root, exitCode(err), exitUsage)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseRoot(%q): %v", tc.root, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(rootSpec{})); diff != "" {
				t.Errorf("parseRoot(%q) (-want +got):\n%s", tc.root, diff)
			}
			abs, err := absRoot(tc.root)
			if err != nil || abs != tc.wantURL {
				t.Errorf("absRoot(%q) = %q, %v; want %q", tc.root, abs, err, tc.wantURL)
			}
			// absRoot is idempotent: the normalised root parses to the same.
			again, err := parseRoot(abs)
			if err != nil {
				t.Fatalf("parseRoot(absRoot) = %v", err)
			}
			if diff := cmp.Diff(got, again, cmp.AllowUnexported(rootSpec{})); diff != "" {
				t.Errorf("parseRoot(%q) differs after absRoot (-first +second):\n%s", abs, diff)
			}
		})
	}
}

func TestOpenStore(t *testing.T) {
	dir := t.TempDir()
	for _, root := range []string{dir, "file://" + dir} {
		st, err := openStore(t.Context(), root)
		if err != nil {
			t.Fatalf("openStore(%q): %v", root, err)
		}
		if _, ok := st.(*filestore.Store); !ok {
			t.Errorf("openStore(%q) = %T, want *filestore.Store", root, st)
		}
		if _, err := st.Stat(t.Context(), "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Stat on new store: %v", err)
		}
	}
	t.Setenv(envS3Endpoint, "http://127.0.0.1:1")
	t.Setenv(envS3PathStyle, "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	st, err := openStore(t.Context(), "s3://bucket/prefix")
	if err != nil {
		t.Fatalf("openStore(s3): %v", err)
	}
	if _, ok := st.(*s3store.Store); !ok {
		t.Errorf("openStore(s3) = %T, want *s3store.Store", st)
	}
	if _, err := openStore(t.Context(), "ftp://x"); exitCode(err) != exitUsage {
		t.Errorf("openStore(ftp) = %v, want a usage error", err)
	}
	t.Setenv(envS3PathStyle, "maybe")
	if _, err := openStore(t.Context(), "s3://bucket"); exitCode(err) != exitUsage || !strings.Contains(err.Error(), envS3PathStyle) {
		t.Errorf("openStore with %s=maybe: %v, want a usage error naming it", envS3PathStyle, err)
	}
}

// TestOpenStoreS3 opens an s3:// root the way a Batch child does, from the
// environment, against a real S3 server on loopback.
func TestOpenStoreS3(t *testing.T) {
	testtool.Slow(t, "starts an S3 server")
	srv := s3test.Start(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	root, err := absRoot("s3://" + srv.Bucket + "/env/")
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), "runs/x/run.json", strings.NewReader("{}"), &store.PutOptions{IfAbsent: true}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	// The object lands under the root's prefix.
	if _, err := srv.Client().HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: &srv.Bucket, Key: aws.String("env/runs/x/run.json")}); err != nil {
		t.Errorf("HeadObject under the prefix: %v", err)
	}
	if err := st.Put(t.Context(), "runs/x/run.json", strings.NewReader("{}"), &store.PutOptions{IfAbsent: true}); !errors.Is(err, store.ErrExists) {
		t.Errorf("second claim: err = %v, want ErrExists", err)
	}
}

// FuzzParseRoot: any root either fails with a usage error or normalises to
// a URL that parses back to the same root.
func FuzzParseRoot(f *testing.F) {
	for _, r := range []string{"s3://b/p", "file:///x", "rel/dir", "", "s3://", "file://h/x", "s3://b/a/../c", "file:///a%2Fb", "x://y", "s3://b/p?q#f", "file:///", "/"} {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, root string) {
		spec, err := parseRoot(root)
		if err != nil {
			return
		}
		abs := spec.String()
		again, err := parseRoot(abs)
		if err != nil {
			t.Fatalf("parseRoot(%q) -> %q does not parse: %v", root, abs, err)
		}
		if diff := cmp.Diff(spec, again, cmp.AllowUnexported(rootSpec{})); diff != "" {
			t.Fatalf("parseRoot(%q) -> %q parses differently (-first +second):\n%s", root, abs, diff)
		}
	})
}
