// Package spool makes temporary files that leave nothing behind, even when
// the process is killed with SIGKILL: a file is unlinked as soon as it is
// created and lives on in its open descriptor until Close. A spool file is
// used through its *os.File (write, then read back with ReadAt or a
// io.SectionReader); it has no name to reopen.
package spool

import (
	"fmt"
	"os"
)

// Create creates a spool file in dir ("" is os.TempDir()) named after
// pattern (as os.CreateTemp) and unlinks it at once.
func Create(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: unlink %s: %w", f.Name(), err)
	}
	return f, nil
}
