// Package netnstest runs a test inside its own user and network namespace
// (unshare -rn), where only the loopback interface exists: whatever the test
// dials cannot leave the machine, and addresses it puts on lo (10.0.0.1,
// 169.254.169.254, ...) are really reachable there, so a connection that
// slips past a guard arrives and can be counted.
//
// The test binary re-executes itself inside the namespace, running only the
// calling test:
//
//	func TestRefusal(t *testing.T) {
//		if !netnstest.Enter(t, "10.0.0.1/32", "169.254.169.254/32") {
//			return // the parent: the namespace run passed
//		}
//		// inside the namespace
//	}
//
// Without unshare or ip, or where user namespaces are not permitted, the
// test is skipped, except under CI=1, where it fails: a refusal test that
// does not run proves nothing.
package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/internal/testtool"
)

// envInside holds the name of the test running inside a namespace, in the
// re-executed test binary's environment.
const envInside = "FEEDBATCH_NETNS_TEST"

// Inside reports whether the current process is a namespace run of test
// name.
func Inside(name string) bool { return os.Getenv(envInside) == name }

// Enter returns true when t runs inside its namespace. Otherwise it runs the
// test binary again inside a fresh user+network namespace with lo up and
// addrs (CIDR prefixes, IPv4 or IPv6) added to lo, running only t (a
// top-level test), fails t unless that run passed, and returns false.
func Enter(t *testing.T, addrs ...string) bool {
	t.Helper()
	if Inside(t.Name()) {
		return true
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatalf("netnstest: %s is a subtest; call Enter from a top-level test", t.Name())
	}
	// Without unshare -rn or ip: skipped, or failed under CI=1.
	unshare := testtool.Require(t, testtool.Unshare)
	testtool.Require(t, testtool.IP)
	script := "set -e\nip link set lo up\n"
	for _, a := range addrs {
		if strings.Contains(a, ":") {
			// IPv6 may be disabled on the machine; tests must not depend on it.
			script += fmt.Sprintf("ip -6 addr add %s dev lo || true\n", a)
			continue
		}
		script += fmt.Sprintf("ip -4 addr add %s dev lo\n", a)
	}
	script += `exec "$0" -test.run "$1" -test.v -test.count=1` + "\n"
	run := "^" + regexp.QuoteMeta(t.Name()) + "$"
	cmd := exec.CommandContext(t.Context(), unshare, "-rn", "sh", "-c", script, os.Args[0], run)
	cmd.Env = append(os.Environ(), envInside+"="+t.Name())
	out, err := cmd.CombinedOutput()
	t.Logf("namespace run:\n%s", out)
	if err != nil {
		t.Fatalf("netnstest: namespace run of %s failed: %v", t.Name(), err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("netnstest: %s did not pass inside the namespace", t.Name())
	}
	return false
}
