package planner

import (
	"os"
	"testing"

	"github.com/feedbatch/feedbatch/internal/s3test"
)

// TestMain shares one S3 server among the package's tests.
func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }
