package fetch

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/internal/testtool"
)

// envNetns marks the test binary's run inside its own network namespace.
const envNetns = "FEEDBATCH_TEST_NETNS"

// TestSSRFRefusal re-runs TestSSRFInNetns inside a fresh user+network
// namespace (unshare -rn), where only lo exists: nothing it does can leave
// the machine, and the addresses it attacks (10.0.0.1, 169.254.169.254,
// 100.64.0.1, fd00:ec2::254) are put on lo so that a connection that slipped
// through the guard would really arrive and be recorded.
func TestSSRFRefusal(t *testing.T) {
	if os.Getenv(envNetns) != "" {
		t.Skip("inside the namespace")
	}
	unshare := testtool.Require(t, testtool.Unshare)
	testtool.Require(t, testtool.IP)
	script := `set -e
ip link set lo up
ip addr add 10.0.0.1/32 dev lo
ip addr add 169.254.169.254/32 dev lo
ip addr add 100.64.0.1/32 dev lo
ip -6 addr add fd00:ec2::254/128 dev lo || true
exec "$0" -test.run '^TestSSRFInNetns$' -test.v -test.count=1`
	cmd := exec.CommandContext(t.Context(), unshare, "-rn", "sh", "-c", script, os.Args[0])
	cmd.Env = append(os.Environ(), envNetns+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("namespace run:\n%s", out)
	if err != nil {
		t.Fatalf("namespace run failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestSSRFInNetns") {
		t.Fatal("TestSSRFInNetns did not pass inside the namespace")
	}
}

// TestSSRFInNetns runs only inside the namespace made by TestSSRFRefusal.
func TestSSRFInNetns(t *testing.T) {
	if os.Getenv(envNetns) == "" {
		t.Skip("runs only inside TestSSRFRefusal's network namespace")
	}
	// The trap: port 80 on every local address; any accepted connection is a
	// guard failure.
	var hits atomic.Int64
	trap, err := net.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trap.Close() })
	go func() {
		for {
			c, err := trap.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()

	// A "public" server the guard is told to allow (127.0.0.2 only), which
	// redirects wherever ?to= says.
	pub, err := net.Listen("tcp", "127.0.0.2:81")
	if err != nil {
		t.Fatal(err)
	}
	var redirects atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})}
	go srv.Serve(pub)
	t.Cleanup(func() { srv.Close() })

	// A DNS server answering every name with loopback (DNS rebinding).
	dnsAddr := startLoopbackDNS(t)
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dnsAddr)
	}}

	c := New(Config{
		Ports:        []uint16{80, 81},
		Allow:        []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Resolver:     resolver,
		TotalTimeout: 5 * time.Second,
	})
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
			_, err := c.Get(t.Context(), u, Validators{})
			if got := Reason(err); got != ReasonSSRF {
				t.Fatalf("reason %q (%v), want %s", got, err, ReasonSSRF)
			}
		})
	}
	if n := redirects.Load(); n != 5 {
		t.Errorf("allowed server answered %d requests, want 5 (the redirect cases must reach it)", n)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d connections reached the trap listener", n)
	}
	// The trap works: a plain dialer does reach it.
	if conn, err := net.Dial("tcp", "10.0.0.1:80"); err == nil {
		conn.Close()
	} else {
		t.Fatalf("trap unreachable, the test proves nothing: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for hits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if hits.Load() != 1 {
		t.Fatal("trap did not record the control connection")
	}
}

// startLoopbackDNS serves A 127.0.0.1 / AAAA ::1 for every question on a
// UDP port of 127.0.0.2 and returns its address.
func startLoopbackDNS(t *testing.T) string {
	pc, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, err := dnsAnswer(buf[:n]); err == nil {
				pc.WriteTo(resp, addr)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// dnsAnswer builds a response to a one-question query.
func dnsAnswer(q []byte) ([]byte, error) {
	if len(q) < 12 {
		return nil, errors.New("short")
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil, errors.New("bad question")
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])
	resp := append([]byte{}, q[0:2]...)                     // id
	resp = append(resp, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0) // flags, qd=1
	resp = append(resp, question...)
	var rdata []byte
	switch qtype {
	case 1:
		rdata = []byte{127, 0, 0, 1}
	case 28:
		rdata = net.IPv6loopback
	}
	if rdata != nil {
		resp[7] = 1 // an=1
		resp = append(resp, 0xC0, 12)
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = append(resp, 0, 1, 0, 0, 0, 0)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
		resp = append(resp, rdata...)
	}
	return resp, nil
}
