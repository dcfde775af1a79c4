// Package examples embeds the bundled example shops (registry, catalogs and
// images) so that `feedbatch run` works from any directory, not only from a
// source checkout.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed shops.yaml shops.csv catalogs images
var files embed.FS

// Registry is the registry file's name inside the extracted directory.
const Registry = "shops.yaml"

// Extract writes the example shops into dir (created if needed; existing
// files are replaced) and returns the path of their registry. Extracting
// twice gives the same tree, so concurrent runs may share dir.
func Extract(dir string) (string, error) {
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		// Write beside the target, then rename: a reader never sees half a file.
		tmp, err := os.CreateTemp(filepath.Dir(target), ".extract-*")
		if err != nil {
			return err
		}
		_, werr := tmp.Write(b)
		if cerr := tmp.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Rename(tmp.Name(), target)
		}
		if werr != nil {
			os.Remove(tmp.Name())
		}
		return werr
	})
	if err != nil {
		return "", fmt.Errorf("extract example shops to %s: %w", dir, err)
	}
	return filepath.Join(dir, Registry), nil
}
