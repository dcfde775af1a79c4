package store

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidKey is wrapped by the error for a key that is not a valid store
// key: retrying with the same key cannot help. Errors will be checked using
// errors.Is.
var ErrInvalidKey = errors.New("store: invalid key")

// CheckKey reports whether key is a valid store key: non-empty, relative,
// slash-separated, with no empty, "." or ".." segments and no NUL bytes.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if strings.HasPrefix(key, "/") || strings.ContainsRune(key, 0) || strings.Contains(key, "\\") {
		return fmt.Errorf("%w %q", ErrInvalidKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w %q", ErrInvalidKey, key)
		}
	}
	return nil
}
