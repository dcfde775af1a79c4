//go:build unix

package filestore

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// etag changes with every write: each Put publishes a new inode, and size
// and modification time are included for good measure.
func etag(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%x-%x-%x", st.Ino, fi.Size(), fi.ModTime().UnixNano())
	}
	return fmt.Sprintf("%x-%x", fi.Size(), fi.ModTime().UnixNano())
}

func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
