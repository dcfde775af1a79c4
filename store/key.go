package store

import (
	"fmt"
	"strings"
)

// CheckKey reports whether key is a valid store key: non-empty, relative,
// slash-separated, with no empty, "." or ".." segments and no NUL bytes.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("store: empty key")
	}
	if strings.HasPrefix(key, "/") || strings.ContainsRune(key, 0) || strings.Contains(key, "\\") {
		return fmt.Errorf("store: invalid key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("store: invalid key %q", key)
		}
	}
	return nil
}
