package examples

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestExtractMatchesCheckout(t *testing.T) {
	dir := t.TempDir()
	reg, err := Extract(dir)
	if err != nil {
		t.Fatal(err)
	}
	if reg != filepath.Join(dir, Registry) {
		t.Errorf("registry path %s", reg)
	}
	// Every file of the checkout's example tree is extracted byte for byte.
	n := 0
	err = filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) == ".go" {
			return err
		}
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("%s not extracted: %v", p, err)
			return nil
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs after extraction", p)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("only %d example files found", n)
	}
	// A second extraction over the first succeeds (runs may share the dir).
	if _, err := Extract(dir); err != nil {
		t.Fatalf("second Extract: %v", err)
	}
}
