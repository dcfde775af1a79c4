package source

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/feedbatch/feedbatch/internal/netnstest"
	"github.com/feedbatch/feedbatch/stages"
)

// TestSourceRefusalInNetns runs in its own network namespace (netnstest):
// source URLs naming private, metadata or loopback addresses, directly or
// through a redirect from an allowed server, fail permanently at dial time,
// and nothing reaches the trap on port 80.
func TestSourceRefusalInNetns(t *testing.T) {
	if !netnstest.Enter(t, "10.0.0.1/32", "169.254.169.254/32") {
		return
	}
	hits := netnstest.Trap(t, ":80")
	netnstest.Redirector(t, "127.0.0.2:81")

	f := &Fetcher{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, Attempts: 3}
	for _, u := range []string{
		"http://10.0.0.1/feed.csv",
		"http://169.254.169.254/latest/meta-data/",
		"http://127.0.0.1/feed.csv",
		"http://127.0.0.2:81/?to=http://10.0.0.1/feed.csv",
		"http://127.0.0.2:81/?to=http://169.254.169.254/latest/meta-data/",
	} {
		t.Run(u, func(t *testing.T) {
			_, err := f.Fetch(t.Context(), u, Validators{})
			if !errors.Is(err, stages.ErrPermanent) {
				t.Fatalf("err = %v, want a permanent refusal", err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d connections reached the trap listener", n)
	}
	netnstest.CheckTrap(t, hits, "10.0.0.1:80")
}
