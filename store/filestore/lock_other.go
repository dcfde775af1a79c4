//go:build !unix

package filestore

import (
	"errors"
	"fmt"
)

// lockKey needs flock, which this platform lacks: Swap is refused rather
// than left unguarded against other processes.
func (s *Store) lockKey(string) (func(), error) {
	return nil, fmt.Errorf("lock: %w", errors.ErrUnsupported)
}
