package testtool

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMissingSkipsOrFails(t *testing.T) {
	if os.Getenv("TESTTOOL_CHILD") != "" {
		Missing(t, Xmllint, errors.New("not here"))
		return
	}
	for _, tc := range []struct {
		ci, want string
		fails    bool
	}{
		{ci: "", want: "--- SKIP: TestMissingSkipsOrFails"},
		{ci: "0", want: "--- SKIP: TestMissingSkipsOrFails"},
		{ci: "1", want: "--- FAIL: TestMissingSkipsOrFails", fails: true},
		{ci: "true", want: "--- FAIL: TestMissingSkipsOrFails", fails: true},
	} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^TestMissingSkipsOrFails$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTTOOL_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fails || !strings.Contains(string(out), tc.want) {
			t.Errorf("CI=%q: err %v, want failure %v and %q in:\n%s", tc.ci, err, tc.fails, tc.want, out)
		}
		if tc.fails && !strings.Contains(string(out), "libxml2-utils") {
			t.Errorf("CI=%q: the failure does not say how to install xmllint:\n%s", tc.ci, out)
		}
	}
}

// TestTools reports which tools this machine has; under CI=1 each must be
// there.
func TestTools(t *testing.T) {
	for _, name := range Names() {
		if Tools[name].find == nil {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Log(Require(t, name))
		})
	}
}

func TestRequireUnknownPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Require of an unknown tool did not panic")
		}
	}()
	Require(t, "no-such-tool")
}
