package safehttp

import (
	"errors"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/internal/netnstest"
)

// Attacked addresses, put on lo inside the namespace so that a connection
// slipping through the guard would really arrive at the trap.
var attacked = []string{"10.0.0.1/32", "169.254.169.254/32", "100.64.0.1/32", "fd00:ec2::254/128"}

// TestRefusalInNetns runs in its own network namespace (netnstest): direct
// addresses, a DNS name answered with loopback (rebinding) and redirects
// from an allowed server to private and metadata addresses are all refused
// at dial time, and nothing reaches the trap on port 80.
func TestRefusalInNetns(t *testing.T) {
	if !netnstest.Enter(t, attacked...) {
		return
	}
	hits := netnstest.Trap(t, ":80")

	// A "public" server the guard is told to allow (127.0.0.2 only), which
	// redirects wherever ?to= says.
	redirects := netnstest.Redirector(t, "127.0.0.2:81")

	c := New(Config{
		Ports:         []uint16{80, 81},
		Allow:         []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Resolver:      netnstest.LoopbackDNS(t),
		HeaderTimeout: 5 * time.Second,
	})
	c.Timeout = 5 * time.Second
	targets := []string{
		"http://127.0.0.1/",
		"http://127.0.0.1:81/",
		"http://10.0.0.1/",
		"http://169.254.169.254/latest/meta-data/",
		"http://100.64.0.1/",
		"http://0.0.0.0/",
		"http://[::1]/",
		"http://[::ffff:127.0.0.1]/",
		"http://[fd00:ec2::254]/",
		"http://localhost/",
		"http://rebind.example.com/img.jpg",
		"http://127.0.0.2:81/?to=http://127.0.0.1/",
		"http://127.0.0.2:81/?to=http://169.254.169.254/latest/meta-data/",
		"http://127.0.0.2:81/?to=http://10.0.0.1/",
		"http://127.0.0.2:81/?to=http://[::1]/",
		"http://127.0.0.2:81/?to=http://localhost/",
	}
	for _, u := range targets {
		t.Run(u, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want ErrRefused", err)
			}
		})
	}
	if n := redirects.Load(); n != 5 {
		t.Errorf("allowed server answered %d requests, want 5 (the redirect cases must reach it)", n)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d connections reached the trap listener", n)
	}
	netnstest.CheckTrap(t, hits, "10.0.0.1:80")
}
