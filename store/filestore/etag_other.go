//go:build !unix

package filestore

import (
	"fmt"
	"io/fs"
)

func etag(fi fs.FileInfo) string {
	return fmt.Sprintf("%x-%x", fi.Size(), fi.ModTime().UnixNano())
}

func isNotDir(error) bool { return false }
