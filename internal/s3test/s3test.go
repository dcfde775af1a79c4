// Package s3test starts a real S3 API server on 127.0.0.1 for tests.
//
// It prefers versitygw (posix backend), found as $FEEDBATCH_VERSITYGW, on
// PATH, or in $(go env GOPATH)/bin (install it with .ci/install-s3server.sh);
// otherwise it runs moto_server (python3 -m moto.server). Set
// FEEDBATCH_S3TEST_SERVER=versitygw or moto to insist on one. When neither
// is available the test is skipped, or fails under CI=1 (testtool.Missing);
// under -short every test that starts a server is skipped.
//
// Start gives every caller a fresh bucket. By default each call also starts
// its own server; a package that calls Main from TestMain shares one server
// among all its tests.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/s3store"
)

// Server is a running S3 API server with one bucket for the caller.
type Server struct {
	Kind      string // "versitygw" or "moto"
	Endpoint  string // http://127.0.0.1:PORT
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
}

// Credentials returns a static credentials provider for the server.
func (s Server) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")
}

// Client returns a path-style S3 client for the server.
func (s Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  s.Credentials(),
	})
}

// Env returns the environment variables that make cmd/feedbatch (through
// FEEDBATCH_ROOT=s3://Bucket/...) use this server.
func (s Server) Env() []string {
	return []string{
		"FEEDBATCH_S3_ENDPOINT=" + s.Endpoint,
		"FEEDBATCH_S3_PATH_STYLE=1",
		"AWS_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
	}
}

// PartSize is the multipart part size of the stores NewStore returns: the S3
// minimum, so that tests exercise multipart uploads with small bodies.
const PartSize = s3store.MinPartSize

// NewStore starts (or shares) a server and returns a store on a fresh bucket
// with a 5 MiB part size.
func NewStore(t testing.TB) store.Store {
	t.Helper()
	srv := Start(t)
	st, err := s3store.New(context.Background(), s3store.Config{
		Bucket:      srv.Bucket,
		Region:      srv.Region,
		Endpoint:    srv.Endpoint,
		PathStyle:   true,
		PartSize:    PartSize,
		Concurrency: 2,
		Credentials: srv.Credentials(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// shared is the package's server when TestMain called Main.
var shared struct {
	mu  sync.Mutex
	srv *proc
}

// Main runs the package's tests with one shared server, started on first use
// and stopped at the end. Use it as: func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.srv = &proc{} // marks sharing on; started lazily
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	if shared.srv != nil && shared.srv.cmd != nil {
		shared.srv.stop()
	}
	shared.mu.Unlock()
	return code
}

// Start returns a server with a fresh bucket; the bucket (and the server,
// unless shared) goes away with t.
func Start(t testing.TB) Server {
	t.Helper()
	testtool.Slow(t, "starts an S3 server")
	var p *proc
	shared.mu.Lock()
	if shared.srv != nil {
		if shared.srv.cmd == nil {
			dir, err := os.MkdirTemp("", "s3test-")
			if err != nil {
				shared.mu.Unlock()
				t.Fatal(err)
			}
			np, err := startProc(dir)
			if err != nil {
				shared.mu.Unlock()
				os.RemoveAll(dir)
				unavailable(t, err)
			}
			np.tmp = dir
			shared.srv = np
		}
		p = shared.srv
	}
	shared.mu.Unlock()
	if p == nil {
		var err error
		p, err = startProc(t.TempDir())
		if err != nil {
			unavailable(t, err)
		}
		t.Cleanup(p.stop)
	}
	srv := p.server
	srv.Bucket = newBucketName()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &srv.Bucket}); err != nil {
		t.Fatalf("s3test: create bucket on %s: %v\n%s", srv.Kind, err, p.output())
	}
	t.Logf("s3test: %s at %s, bucket %s", srv.Kind, srv.Endpoint, srv.Bucket)
	return srv
}

// StartMoto starts a moto server of its own (every AWS service moto mocks,
// e.g. Secrets Manager and SSM) that goes away with t. No bucket is made.
func StartMoto(t testing.TB) Server {
	t.Helper()
	testtool.Slow(t, "starts an S3 server")
	p, err := startMoto()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(p.stop)
	return p.server
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	testtool.Missing(t, testtool.S3, fmt.Errorf("s3test: no S3 server: %w", err))
}

func newBucketName() string {
	var b [6]byte
	rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

// proc is one server process.
type proc struct {
	server Server
	cmd    *exec.Cmd
	out    *syncBuffer
	tmp    string // removed on stop, if set
	done   chan struct{}
}

func (p *proc) output() string { return p.out.String() }

func (p *proc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	if p.tmp != "" {
		os.RemoveAll(p.tmp)
	}
}

// findVersityGW returns the versitygw binary, or "".
func findVersityGW() string {
	if p := os.Getenv("FEEDBATCH_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

func startProc(dir string) (*proc, error) {
	want := os.Getenv("FEEDBATCH_S3TEST_SERVER")
	var errs []error
	if want == "" || want == "versitygw" {
		if bin := findVersityGW(); bin != "" {
			p, err := startVersity(bin, dir)
			if err == nil {
				return p, nil
			}
			errs = append(errs, err)
		} else {
			errs = append(errs, errors.New("versitygw not found"))
		}
	}
	if want == "" || want == "moto" {
		p, err := startMoto()
		if err == nil {
			return p, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func startVersity(bin, dir string) (*proc, error) {
	root := filepath.Join(dir, "gw")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	srv := Server{Kind: "versitygw", AccessKey: "feedbatch", SecretKey: "feedbatch-secret", Region: "us-east-1"}
	return launch(srv, func(addr string) *exec.Cmd {
		cmd := exec.Command(bin, "--port", addr, "posix", root)
		cmd.Env = append(os.Environ(),
			"ROOT_ACCESS_KEY="+srv.AccessKey,
			"ROOT_SECRET_KEY="+srv.SecretKey,
			"VGW_REGION="+srv.Region,
		)
		return cmd
	})
}

func startMoto() (*proc, error) {
	python := "python3"
	if _, err := exec.LookPath(python); err != nil {
		return nil, fmt.Errorf("moto: %w", err)
	}
	srv := Server{Kind: "moto", AccessKey: "testing", SecretKey: "testing", Region: "us-east-1"}
	return launch(srv, func(addr string) *exec.Cmd {
		host, port, _ := net.SplitHostPort(addr)
		return exec.Command(python, "-m", "moto.server", "-H", host, "-p", port)
	})
}

// launch starts the command on a free loopback port and waits until it
// answers HTTP. A port taken between probing and binding is retried.
func launch(srv Server, command func(addr string) *exec.Cmd) (*proc, error) {
	var lastErr error
	for range 3 {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		out := &syncBuffer{}
		cmd := command(addr)
		cmd.Stdout = out
		cmd.Stderr = out
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("%s: %w", srv.Kind, err)
		}
		p := &proc{server: srv, cmd: cmd, out: out, done: make(chan struct{})}
		p.server.Endpoint = "http://" + addr
		go func() { cmd.Wait(); close(p.done) }()
		if err := waitReady(p, 60*time.Second); err != nil {
			p.stop()
			lastErr = fmt.Errorf("%s: %w\n%s", srv.Kind, err, out.String())
			continue
		}
		return p, nil
	}
	return nil, lastErr
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls the endpoint until any HTTP answer comes back.
func waitReady(p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(p.server.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("server exited before it was ready")
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", timeout, err)
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil // keep the start; enough to diagnose
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
