package testtool

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Module is the project's module path.
const Module = "github.com/feedbatch/feedbatch"

// Feedbatch builds cmd/feedbatch into a directory of t and returns the
// binary's path. Every test that needs the binary builds it here, the way
// the Dockerfile does (CGO_ENABLED=0, -trimpath), so the packages are
// compiled once into the build cache for all of them (cfn, docker, the stage
// and crash tests) and each later build only links. ldflags are passed to
// go build as they are ("" for none).
func Feedbatch(t testing.TB, ldflags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the feedbatch binary (-short)")
	}
	bin := filepath.Join(t.TempDir(), "feedbatch")
	args := []string{"build", "-trimpath"}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	args = append(args, "-o", bin, Module+"/cmd/feedbatch")
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	return bin
}
