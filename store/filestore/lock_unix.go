//go:build unix

package filestore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir holds one lock file per key ever swapped. It is a directory, so
// the stale-temp sweep (regular files only) never removes a lock in use.
const lockDir = tmpDir + "/locks"

// lockKey takes an exclusive advisory lock (flock) for key, waiting for
// other holders in this or other processes. The lock dies with its process.
func (s *Store) lockKey(key string) (func(), error) {
	if err := s.root.MkdirAll(lockDir, dirMode); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	sum := sha256.Sum256([]byte(key))
	f, err := s.root.OpenFile(filepath.Join(lockDir, hex.EncodeToString(sum[:16])), os.O_CREATE|os.O_RDWR, fileMode)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() { f.Close() }, nil
}
