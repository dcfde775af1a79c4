package safehttp

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"code.dny.dev/ssrf"
	"github.com/google/go-cmp/cmp"
)

// TestGuard checks the dial-time decision for each address class, without
// opening any socket.
func TestGuard(t *testing.T) {
	guard := Guard(Config{})
	allowLoop := Guard(Config{AnyPort: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}})
	tests := []struct {
		network, addr string
		allowed       bool
		allowedLoop   bool
	}{
		{"tcp4", "93.184.216.34:443", true, true},
		{"tcp4", "93.184.216.34:80", true, true},
		{"tcp6", "[2606:4700::1111]:443", true, true},
		{"tcp4", "93.184.216.34:8080", false, true}, // port
		{"tcp4", "127.0.0.1:80", false, true},
		{"tcp4", "127.1.2.3:443", false, true},
		{"tcp4", "10.0.0.1:80", false, false},
		{"tcp4", "172.16.5.4:80", false, false},
		{"tcp4", "192.168.1.1:80", false, false},
		{"tcp4", "169.254.169.254:80", false, false}, // EC2/GCP/Azure metadata
		{"tcp4", "100.64.0.1:80", false, false},      // CGNAT
		{"tcp4", "100.100.100.200:80", false, false}, // Alibaba metadata, CGNAT range
		{"tcp4", "0.0.0.0:80", false, false},
		{"tcp4", "224.0.0.1:80", false, false},
		{"tcp4", "255.255.255.255:80", false, false},
		{"tcp6", "[::1]:80", false, false},
		{"tcp6", "[::]:80", false, false},
		{"tcp6", "[::ffff:127.0.0.1]:80", false, false}, // IPv4-mapped
		{"tcp6", "[::ffff:10.0.0.1]:80", false, false},
		{"tcp6", "[64:ff9b::7f00:1]:80", false, false}, // NAT64 of 127.0.0.1
		{"tcp6", "[fd00:ec2::254]:80", false, true},    // EC2 IPv6 metadata, allowed by fd00::/8
		{"tcp6", "[fe80::1]:80", false, false},
		{"tcp6", "[ff02::1]:80", false, false},
		{"tcp6", "[2001:db8::1]:80", false, false},
		{"udp4", "93.184.216.34:443", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			for _, c := range []struct {
				name  string
				guard func(string, string, syscall.RawConn) error
				want  bool
			}{{"default", guard, tc.allowed}, {"allow-list", allowLoop, tc.allowedLoop}} {
				err := c.guard(tc.network, tc.addr, nil)
				if (err == nil) != c.want {
					t.Fatalf("%s guard(%s %s) = %v, want allowed=%v", c.name, tc.network, tc.addr, err, c.want)
				}
				if err != nil && (!errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "refused")) {
					t.Fatalf("%s guard error %v does not match ErrRefused", c.name, err)
				}
				if err != nil && !errors.Is(err, ssrf.ErrProhibitedIP) && !errors.Is(err, ssrf.ErrProhibitedPort) && !errors.Is(err, ssrf.ErrProhibitedNetwork) {
					t.Fatalf("%s guard error %v lost the reason", c.name, err)
				}
			}
		})
	}
}

func TestRedirectLimits(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://127.0.0.1/x", http.StatusFound)
	})
	mux.HandleFunc("/one", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := New(Config{AnyPort: true, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, MaxRedirects: 2})
	defer c.CloseIdleConnections()
	for _, tc := range []struct {
		path string
		want error
	}{{"/one", nil}, {"/loop", ErrRedirects}, {"/ftp", ErrScheme}} {
		resp, err := c.Get(srv.URL + tc.path)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: err = %v, want %v", tc.path, err, tc.want)
		}
	}
	// Without the allow-list, loopback is refused at dial time.
	if _, err := New(Config{AnyPort: true}).Get(srv.URL + "/ok"); !errors.Is(err, ErrRefused) {
		t.Errorf("loopback without allow-list: %v, want ErrRefused", err)
	}
}

func TestParseAllowNets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "", want: nil},
		{in: " , ,", want: nil},
		{in: "127.0.0.1", want: []string{"127.0.0.1/32"}},
		{in: "127.0.0.1/8, ::1", want: []string{"127.0.0.0/8", "::1/128"}},
		{in: "10.1.2.3/16,fd00:ec2::254/64", want: []string{"10.1.0.0/16", "fd00:ec2::/64"}},
		{in: "127.0.0.1/40", err: true},
		{in: "localhost", err: true},
		{in: "fe80::1%eth0", err: true},
		{in: "1.2.3.4/", err: true},
	} {
		got, err := ParseAllowNets(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: err = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		var gs []string
		for _, p := range got {
			gs = append(gs, p.String())
		}
		if diff := cmp.Diff(tc.want, gs); diff != "" {
			t.Errorf("%q: (-want +got):\n%s", tc.in, diff)
		}
	}
}

// FuzzParseAllowNets: the list is outside input (an operator's variable).
// Whatever parses gives valid, masked prefixes whose printed list parses
// back to the same.
func FuzzParseAllowNets(f *testing.F) {
	for _, s := range []string{"", "127.0.0.1/32", "127.0.0.1, ::1", "10.0.0.0/8,fd00::/8", "1.2.3.4/33", "::ffff:1.2.3.4/120", "fe80::1%lo", " ,1.1.1.1 ,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseAllowNets(s)
		if err != nil {
			return
		}
		var parts []string
		for _, p := range got {
			if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" {
				t.Fatalf("%q gave prefix %v (valid %v, masked %v)", s, p, p.IsValid(), p.Masked())
			}
			parts = append(parts, p.String())
		}
		again, err := ParseAllowNets(strings.Join(parts, ","))
		if err != nil {
			t.Fatalf("%q: printed list %q does not parse: %v", s, parts, err)
		}
		if diff := cmp.Diff(got, again, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Fatalf("%q: round trip (-first +again):\n%s", s, diff)
		}
	})
}
