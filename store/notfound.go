package store

import "fmt"

// NotFoundError is the error of a store for a key that does not exist: it
// names the key and the root that were searched, once, so that callers
// wrapping it need not repeat the key. It matches ErrNotFound:
//
//	errors.Is(err, store.ErrNotFound)               // any missing key
//	nf, ok := errors.AsType[*store.NotFoundError](err) // which one, where
type NotFoundError struct {
	// Key is the key that was looked up; "" when the root itself does not
	// exist.
	Key string
	// Root is the store's root as a URL (file:///dir, s3://bucket/prefix).
	Root string
	// Err is the driver's own error, if any (kept for errors.As, not
	// printed: the message stays one short line).
	Err error
}

func (e *NotFoundError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("root %s does not exist", e.Root)
	}
	if e.Root == "" {
		return fmt.Sprintf("%s: not found", e.Key)
	}
	return fmt.Sprintf("%s: not found in %s", e.Key, e.Root)
}

// Is reports whether target is ErrNotFound.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Unwrap returns the driver's error.
func (e *NotFoundError) Unwrap() error { return e.Err }
