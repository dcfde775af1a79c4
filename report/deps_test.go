package report

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDeps: the report renders a run model; it links no database driver,
// image codec or S3 client (those belong to the stages and stores that
// the command wires in).
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if !slices.Contains(pkgs, "github.com/feedbatch/feedbatch/runs") {
		t.Fatalf("go list -deps does not list the run model: %q", out)
	}
	for _, pkg := range pkgs {
		for _, banned := range []string{"github.com/jackc/pgx", "golang.org/x/image", "github.com/aws/aws-sdk-go-v2/service/s3"} {
			if pkg == banned || strings.HasPrefix(pkg, banned+"/") {
				t.Errorf("report links %s", pkg)
			}
		}
	}
}
