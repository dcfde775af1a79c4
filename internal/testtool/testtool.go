// Package testtool is the one list of outside tools and services the tests
// need, and the one place that decides what a test does without one: skip
// on a developer's machine, fail under CI=1 (set by .ci/run), so that CI
// never passes by skipping.
//
//	xmllint := testtool.Require(t, testtool.Xmllint)
//
// A test that finds a service missing its own way (a server that does not
// answer) reports it with Missing.
package testtool

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// The tools and services; each is a key of Tools.
const (
	Chromium   = "chromium"   // headless Chromium: the report's browser tests
	Xmllint    = "xmllint"    // libxml2's parser on the Google feed
	Unshare    = "unshare"    // unshare -rn: SSRF tests in a private network namespace
	IP         = "ip"         // iproute2: addresses inside that namespace
	CfnLint    = "cfn-lint"   // the CloudFormation template's linter
	Boto3      = "boto3"      // python3 with boto3, a client of the local engine
	AWSCLI     = "aws"        // the AWS CLI, a client of the local engine
	Curl       = "curl"       // an HTTP client other than Go's, on the delivery paths
	Node       = "node"       // runs the CloudFront Function's code
	S3         = "s3"         // an S3 API server (versitygw or moto_server; internal/s3test)
	PostgreSQL = "postgresql" // the machine's PostgreSQL (FEEDBATCH_TEST_PG)
)

// tool is how to find one tool and how to get it.
type tool struct {
	find    func() (string, error) // nil: a service the test reaches itself
	install string
}

func lookPath(names ...string) func() (string, error) {
	return func() (string, error) {
		var tried []string
		for _, n := range names {
			if n == "" {
				continue
			}
			if p, err := exec.LookPath(n); err == nil {
				return p, nil
			}
			tried = append(tried, n)
		}
		return "", fmt.Errorf("none of %s on PATH", strings.Join(tried, ", "))
	}
}

// Tools is every tool and service a test may need: under CI=1 each must be
// there.
var Tools = map[string]tool{
	Chromium: {find: func() (string, error) {
		return lookPath(os.Getenv("FEEDBATCH_CHROMIUM"), "chromium", "chromium-browser", "google-chrome")()
	}, install: "apt-get install chromium, or set FEEDBATCH_CHROMIUM"},
	Xmllint: {find: lookPath("xmllint"), install: "apt-get install libxml2-utils"},
	Unshare: {find: func() (string, error) {
		p, err := exec.LookPath("unshare")
		if err != nil {
			return "", err
		}
		if out, err := exec.Command(p, "-rn", "true").CombinedOutput(); err != nil {
			return "", fmt.Errorf("unshare -rn not permitted (user namespaces disabled?): %v: %s", err, strings.TrimSpace(string(out)))
		}
		return p, nil
	}, install: "apt-get install util-linux, with unprivileged user namespaces"},
	IP:      {find: lookPath("ip"), install: "apt-get install iproute2"},
	CfnLint: {find: lookPath("cfn-lint"), install: "pip install cfn-lint"},
	Boto3: {find: func() (string, error) {
		p, err := exec.LookPath("python3")
		if err != nil {
			return "", err
		}
		if out, err := exec.Command(p, "-c", "import boto3").CombinedOutput(); err != nil {
			return "", fmt.Errorf("python3 -c 'import boto3': %v: %s", err, strings.TrimSpace(string(out)))
		}
		return p, nil
	}, install: "apt-get install python3-boto3"},
	AWSCLI:     {find: lookPath("aws"), install: "apt-get install awscli"},
	Curl:       {find: lookPath("curl"), install: "apt-get install curl"},
	Node:       {find: lookPath("node"), install: "apt-get install nodejs"},
	S3:         {install: ".ci/install-s3server.sh, or pip install 'moto[server]'"},
	PostgreSQL: {install: "start the machine's PostgreSQL, or set FEEDBATCH_TEST_PG"},
}

// Names lists Tools, sorted.
func Names() []string {
	names := make([]string, 0, len(Tools))
	for n := range Tools {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CI reports whether the tests run in CI (CI set and not "0" or "false"),
// where a missing tool is a failure.
func CI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "0" && v != "false"
}

// Require returns the path of the tool (for Boto3, of python3). Without it,
// t is skipped, or failed under CI=1. It panics on a name not in Tools or a
// service (S3, PostgreSQL), which tests reach themselves.
func Require(t testing.TB, name string) string {
	t.Helper()
	tl, ok := Tools[name]
	if !ok || tl.find == nil {
		panic(fmt.Sprintf("testtool: Require(%q): not a tool of testtool.Tools", name))
	}
	p, err := tl.find()
	if err != nil {
		Missing(t, name, err)
	}
	return p
}

// Missing skips t, or fails it under CI=1, because the tool or service name
// is not there (err says how it was looked for).
func Missing(t testing.TB, name string, err error) {
	t.Helper()
	tl, ok := Tools[name]
	if !ok {
		panic(fmt.Sprintf("testtool: Missing(%q): not in testtool.Tools", name))
	}
	if CI() {
		t.Fatalf("%s is required under CI=1: %v (%s)", name, err, tl.install)
	}
	t.Skipf("%s not available: %v (%s; CI=1 makes this a failure)", name, err, tl.install)
}

// EnvScale, set to 1, runs the scale tests (10,000 shops and the like),
// which take minutes and are not part of `go test ./...`.
const EnvScale = "FEEDBATCH_SCALE"

// Scale skips t unless FEEDBATCH_SCALE=1: a test at production scale, run
// on purpose (its figures are in the README's performance table), not on
// every change. It is not a missing tool: CI=1 does not make it fail.
func Scale(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvScale) != "1" {
		t.Skipf("a scale test: set %s=1 to run it", EnvScale)
	}
}

// Slow skips t under -short: an end-to-end test that starts processes or
// servers and takes seconds, kept out of the sub-minute tier.
func Slow(t testing.TB, why string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: %s", why)
	}
}
