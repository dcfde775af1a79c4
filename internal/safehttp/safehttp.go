// Package safehttp is the one HTTP client for outside URLs (shop catalog
// sources, product images): its dialer refuses loopback, private,
// link-local, CGNAT, multicast, unspecified, reserved and metadata addresses
// (169.254.169.254, fd00:ec2::254) on the resolved address of every
// connection, so neither DNS answers nor redirects can reach them; it uses
// no proxy, follows a bounded number of http(s) redirects, and lets an
// operator allow listed prefixes (a local test server) through.
package safehttp

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"code.dny.dev/ssrf"
)

// Errors of refused requests; check them with errors.Is.
var (
	// ErrRefused: the destination address (or port) is not public; the
	// dial never happened.
	ErrRefused = errors.New("safehttp: address refused")
	// ErrRedirects: more redirects than Config.MaxRedirects.
	ErrRedirects = errors.New("safehttp: too many redirects")
	// ErrScheme: a URL or redirect that is not http(s) with a host.
	ErrScheme = errors.New("safehttp: not an http(s) URL")
)

// Config sets the client's limits. The zero value is the safe default.
type Config struct {
	// Ports allowed at dial time; nil means 80 and 443.
	Ports []uint16
	// AnyPort disables the port check.
	AnyPort bool
	// Allow lists prefixes let through although the guard denies them (an
	// operator's allow-list, see ParseAllowNets; tests). Never set from
	// outside input.
	Allow []netip.Prefix
	// MaxRedirects followed (default 5).
	MaxRedirects int
	// DialTimeout bounds one connection's dial (default 10 s).
	DialTimeout time.Duration
	// TLSHandshakeTimeout (default 10 s).
	TLSHandshakeTimeout time.Duration
	// HeaderTimeout waits for response headers (default 15 s).
	HeaderTimeout time.Duration
	// PerHost bounds connections per host (default 0: no bound).
	PerHost int
	// MaxIdleConns kept for reuse (default 64).
	MaxIdleConns int
	// Resolver used to look up names; nil is net.DefaultResolver. Whatever
	// it answers, the address is checked at dial time.
	Resolver *net.Resolver
}

// New returns a client with cfg's guard and limits. It never uses a proxy:
// the dial-time check would see the proxy's address instead of the
// destination's.
func New(cfg Config) *http.Client {
	maxRedirects := cmp.Or(cfg.MaxRedirects, 5)
	dialer := &net.Dialer{
		Timeout:   cmp.Or(cfg.DialTimeout, 10*time.Second),
		KeepAlive: 30 * time.Second,
		Resolver:  cfg.Resolver,
		Control:   Guard(cfg),
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cmp.Or(cfg.MaxIdleConns, 64),
		MaxIdleConnsPerHost:   cfg.PerHost,
		MaxConnsPerHost:       cfg.PerHost,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   cmp.Or(cfg.TLSHandshakeTimeout, 10*time.Second),
		ResponseHeaderTimeout: cmp.Or(cfg.HeaderTimeout, 15*time.Second),
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("%w (more than %d)", ErrRedirects, maxRedirects)
			}
			return CheckURL(req.URL.Scheme, req.URL.Hostname())
		},
	}
}

// CheckURL accepts the scheme and host of an absolute http(s) URL.
func CheckURL(scheme, host string) error {
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("%w: scheme %q", ErrScheme, scheme)
	}
	if host == "" {
		return fmt.Errorf("%w: no host", ErrScheme)
	}
	return nil
}

// Guard returns the dial-time check for cfg, for a net.Dialer's Control:
// it refuses loopback, private, link-local, CGNAT, multicast, unspecified,
// reserved and metadata addresses, all IPv6 outside global unicast (which
// covers IPv4-mapped and NAT64 forms of any IPv4 address), and ports other
// than cfg.Ports, unless the address is in cfg.Allow. Its errors match
// ErrRefused.
func Guard(cfg Config) func(network, address string, c syscall.RawConn) error {
	var opts []ssrf.Option
	switch {
	case cfg.AnyPort:
		opts = append(opts, ssrf.WithAnyPort())
	case cfg.Ports != nil:
		opts = append(opts, ssrf.WithPorts(cfg.Ports...))
	}
	var v4, v6 []netip.Prefix
	for _, p := range cfg.Allow {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	opts = append(opts, ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...))
	safe := ssrf.New(opts...).Safe
	return func(network, address string, c syscall.RawConn) error {
		if err := safe(network, address, c); err != nil {
			return refused{err}
		}
		return nil
	}
}

// refused is a guard error: it matches ErrRefused and still the ssrf
// package's sentinels.
type refused struct{ err error }

func (r refused) Error() string { return "refused: " + r.err.Error() }
func (r refused) Unwrap() error { return r.err }
func (r refused) Is(target error) bool {
	return target == ErrRefused
}

// ParseAllowNets parses an operator's allow-list: CIDR prefixes or single
// addresses, comma separated, spaces ignored ("127.0.0.1/32, ::1"). Prefixes
// are masked; an empty string is an empty list.
func ParseAllowNets(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("allow-list %q: %w", f, err)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("allow-list %q: an address with a zone is not a network", f)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("allow-list %q: %w", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
