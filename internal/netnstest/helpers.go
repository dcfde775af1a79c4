package netnstest

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Trap listens on addr (":80" is port 80 of every local address) and counts
// the connections it accepts: inside a namespace whose lo holds the
// attacked addresses, any count above zero is a guard failure. CheckTrap
// proves the trap works.
func Trap(t *testing.T, addr string) *atomic.Int64 {
	t.Helper()
	var hits atomic.Int64
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hits.Add(1)
			c.Close()
		}
	}()
	return &hits
}

// Redirector serves on addr (an address the guard is told to allow) and
// redirects every request to its ?to= parameter, counting the requests: the
// "public" server whose redirects a guard must check again at dial time.
func Redirector(t *testing.T, addr string) *atomic.Int64 {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &n
}

// CheckTrap dials target with a plain dialer and fails t unless the trap
// records it: otherwise a zero count proves nothing.
func CheckTrap(t *testing.T, hits *atomic.Int64, target string) {
	t.Helper()
	before := hits.Load()
	conn, err := net.Dial("tcp", target)
	if err != nil {
		t.Fatalf("trap unreachable at %s, the test proves nothing: %v", target, err)
	}
	conn.Close()
	deadline := time.Now().Add(2 * time.Second)
	for hits.Load() == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if hits.Load() != before+1 {
		t.Fatal("trap did not record the control connection")
	}
}

// LoopbackDNS serves A 127.0.0.1 / AAAA ::1 for every name (DNS
// rebinding) on a UDP port of 127.0.0.2, and returns a resolver that asks
// it.
func LoopbackDNS(t *testing.T) *net.Resolver {
	t.Helper()
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
	dnsAddr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dnsAddr)
	}}
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
