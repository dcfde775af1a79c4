// Package filestore implements store.Store on a local directory.
//
// Writes go to a temporary file under the root's ".feedbatch-tmp" directory,
// are fsynced, and are then published with a rename (or, for IfAbsent, a hard
// link, which fails atomically if the key exists, even across processes). A
// cancelled or failed write leaves nothing behind. All file system access goes
// through an os.Root, so no key and no symlink can reach outside the root.
//
// Because keys are file paths, a key cannot be both an object and a "folder"
// of other keys ("a" and "a/b"): the second Put fails. S3 allows this; the
// feedbatch key layout never needs it.
//
// A root is private to its owner, whatever the umask: objects are written
// 0600 and directories made 0700 (manifests, run records and result records
// may name a shop's source; nothing on a local root is meant for others).
package filestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/feedbatch/feedbatch/internal/ctxio"
	"github.com/feedbatch/feedbatch/store"
)

// tmpDir holds writes in progress; List never shows it.
const tmpDir = ".feedbatch-tmp"

// Modes of what the store creates (see the package comment).
const (
	fileMode fs.FileMode = 0o600
	dirMode  fs.FileMode = 0o700
)

// Store is a store.Store on a local directory. It is safe for concurrent use,
// also by several processes on the same directory.
type Store struct {
	dir  string
	root *os.Root
}

var _ store.Store = (*Store)(nil)

// New opens (creating if needed) the directory dir as a store.
func New(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore %s: %w", dir, err)
	}
	// A read-only directory still opens (for reading); writes will fail.
	mkErr := os.MkdirAll(filepath.Join(abs, tmpDir), dirMode)
	root, err := os.OpenRoot(abs)
	if err != nil {
		if mkErr != nil {
			err = mkErr
		}
		return nil, fmt.Errorf("filestore %s: %w", abs, err)
	}
	st := &Store{dir: abs, root: root}
	st.removeStaleTemps(time.Now().Add(-staleTemp))
	return st, nil
}

// OpenExisting opens the directory dir as a store for a command that only
// looks: it creates nothing and cleans nothing up. A missing directory is
// store.ErrNotFound.
func OpenExisting(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &store.NotFoundError{Root: (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()}
	}
	if err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("root file://%s is not a directory", abs)
	}
	if err != nil {
		return nil, fmt.Errorf("filestore %s: %w", abs, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("filestore %s: %w", abs, err)
	}
	return &Store{dir: abs, root: root}, nil
}

// staleTemp is the age after which a temp file is taken to be left by a
// crashed writer. No write takes this long.
const staleTemp = 24 * time.Hour

// removeStaleTemps removes temp files last written before cutoff (best
// effort: a crashed process cannot clean up after itself).
func (s *Store) removeStaleTemps(cutoff time.Time) {
	d, err := s.root.Open(tmpDir)
	if err != nil {
		return
	}
	ents, _ := d.ReadDir(-1)
	d.Close()
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(cutoff) {
			s.root.Remove(filepath.Join(tmpDir, e.Name()))
		}
	}
}

// Dir is the absolute directory of the store.
func (s *Store) Dir() string { return s.dir }

// Close releases the directory handle.
func (s *Store) Close() error { return s.root.Close() }

func checkKey(key string) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	if key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return fmt.Errorf("%w %q: %s is reserved by the file store", store.ErrInvalidKey, key, tmpDir)
	}
	return nil
}

// name converts a key to a path relative to the root.
func name(key string) string { return filepath.FromSlash(key) }

func (s *Store) notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errIsDir) || isNotDir(err) {
		return &store.NotFoundError{Key: key, Root: (&url.URL{Scheme: "file", Path: filepath.ToSlash(s.dir)}).String()}
	}
	return fmt.Errorf("%s: %w", key, err)
}

var errIsDir = errors.New("is a directory")

// open opens key as a regular file.
func (s *Store) open(key string) (*os.File, fs.FileInfo, error) {
	if err := checkKey(key); err != nil {
		return nil, nil, err
	}
	f, err := s.root.Open(name(key))
	if err != nil {
		return nil, nil, s.notFound(key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, s.notFound(key, errIsDir)
	}
	return f, fi, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, _, err := s.open(key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// GetRange implements store.Store. A range past the end is cut at the end.
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("get %s: negative offset %d", key, offset)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, fi, err := s.open(key)
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if offset > size {
		offset = size
	}
	if length < 0 || offset+length > size {
		length = size - offset
	}
	return &section{SectionReader: io.NewSectionReader(f, offset, length), f: f}, nil
}

type section struct {
	*io.SectionReader
	f *os.File
}

func (s *section) Close() error { return s.f.Close() }

// Stat implements store.Store.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	if err := ctx.Err(); err != nil {
		return store.Info{}, err
	}
	if err := checkKey(key); err != nil {
		return store.Info{}, err
	}
	fi, err := s.root.Stat(name(key))
	if err != nil {
		return store.Info{}, s.notFound(key, err)
	}
	if !fi.Mode().IsRegular() {
		return store.Info{}, s.notFound(key, errIsDir)
	}
	return info(key, fi), nil
}

func info(key string, fi fs.FileInfo) store.Info {
	return store.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), ETag: etag(fi)}
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	fi, err := s.root.Lstat(name(key))
	if err != nil {
		return s.notFound(key, err)
	}
	if !fi.Mode().IsRegular() {
		// Directories and symlinks are not objects.
		return s.notFound(key, errIsDir)
	}
	if err := s.root.Remove(name(key)); err != nil {
		return s.notFound(key, err)
	}
	return nil
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts *PutOptions) error {
	if opts == nil {
		opts = &store.PutOptions{}
	}
	tmp, err := s.writeTemp(ctx, key, r)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer s.root.Remove(tmp) // after a link; a rename leaves nothing to remove
	if opts.IfAbsent {
		// link fails with EEXIST if the key exists: atomic, also across
		// processes.
		if err := s.root.Link(tmp, name(key)); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("put %s: %w", key, store.ErrExists)
			}
			return fmt.Errorf("put %s: %w", key, err)
		}
	} else if err := s.root.Rename(tmp, name(key)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	s.syncDir(path.Dir(key))
	return nil
}

// Swap implements store.Store. Swaps of one key exclude each other, also
// across processes, with an advisory lock on a file under the temp
// directory: under it the current ETag is compared and the new file linked
// or renamed into place.
func (s *Store) Swap(ctx context.Context, key string, r io.Reader, ifMatch string, _ *PutOptions) (string, error) {
	tmp, err := s.writeTemp(ctx, key, r)
	if err != nil {
		return "", fmt.Errorf("swap %s: %w", key, err)
	}
	defer s.root.Remove(tmp)
	unlock, err := s.lockKey(key)
	if err != nil {
		return "", fmt.Errorf("swap %s: %w", key, err)
	}
	defer unlock()
	cur, err := s.root.Stat(name(key))
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("swap %s: %w", key, err)
	case err == nil && !cur.Mode().IsRegular():
		return "", fmt.Errorf("swap %s: %w", key, errIsDir)
	case (err == nil) != (ifMatch != "") || (err == nil && etag(cur) != ifMatch):
		return "", fmt.Errorf("swap %s: %w", key, store.ErrChanged)
	}
	if ifMatch == "" {
		err = s.root.Link(tmp, name(key))
	} else {
		err = s.root.Rename(tmp, name(key))
	}
	if err != nil {
		return "", fmt.Errorf("swap %s: %w", key, err)
	}
	s.syncDir(path.Dir(key))
	fi, err := s.root.Stat(name(key))
	if err != nil {
		return "", fmt.Errorf("swap %s: %w", key, err)
	}
	return etag(fi), nil
}

// writeTemp copies r to a new fsynced temp file and creates the key's
// parent directories; the caller links or renames the temp file into place
// and removes it. On error nothing is left behind.
func (s *Store) writeTemp(ctx context.Context, key string, r io.Reader) (_ string, err error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	tmp, f, err := s.createTemp()
	if err != nil {
		return "", err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			s.root.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, ctxio.Reader(ctx, r)); err != nil {
		return "", err
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return "", cerr
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if dir := path.Dir(key); dir != "." {
		if err := s.root.MkdirAll(filepath.FromSlash(dir), dirMode); err != nil {
			return "", err
		}
	}
	return tmp, nil
}

// PutOptions is store.PutOptions (content type and friends are not kept on
// disk).
type PutOptions = store.PutOptions

// syncDir makes a rename durable; errors are ignored (some file systems do
// not support syncing directories).
func (s *Store) syncDir(dir string) {
	d, err := s.root.Open(filepath.FromSlash(dir))
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}

func (s *Store) createTemp() (string, *os.File, error) {
	for range 10 {
		var b [12]byte
		rand.Read(b[:])
		tmp := filepath.Join(tmpDir, hex.EncodeToString(b[:]))
		f, err := s.root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, fileMode)
		if errors.Is(err, fs.ErrNotExist) {
			// Someone removed the temp directory; recreate it.
			if err := s.root.MkdirAll(tmpDir, dirMode); err != nil {
				return "", nil, err
			}
			continue
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return tmp, f, err
	}
	return "", nil, errors.New("cannot create temporary file")
}

// List implements store.Store. Keys come in lexical order: a directory "a" is
// ordered as "a/", so "a-b" comes before "a/c".
func (s *Store) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	dir := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dir = prefix[:i]
	}
	if dir != "" {
		if err := checkKey(dir); err != nil {
			// No valid key can have this prefix.
			return nil
		}
	}
	err := s.walk(ctx, dir, prefix, fn)
	if err != nil && (errors.Is(err, fs.ErrNotExist) || isNotDir(err)) && dir != "" {
		return nil
	}
	return err
}

func (s *Store) walk(ctx context.Context, dir, prefix string, fn func(store.Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	open := "."
	if dir != "" {
		open = filepath.FromSlash(dir)
	}
	d, err := s.root.Open(open)
	if err != nil {
		return err
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	sortKey := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(sortKey(a), sortKey(b)) })
	for _, e := range ents {
		key := e.Name()
		if dir != "" {
			key = dir + "/" + key
		}
		switch {
		case dir == "" && e.Name() == tmpDir:
			continue
		case e.IsDir():
			if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				continue
			}
			if err := s.walk(ctx, key, prefix, fn); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // removed meanwhile
				}
				return err
			}
		case e.Type().IsRegular():
			if !strings.HasPrefix(key, prefix) {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("list %s: %w", key, err)
			}
			if err := fn(info(key, fi)); err != nil {
				return err
			}
		}
		// Symlinks and other special files are not objects.
	}
	return nil
}
