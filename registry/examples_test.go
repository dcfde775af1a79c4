package registry_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/feedbatch/feedbatch/registry"
)

// TestExamples keeps examples/shops.yaml valid: it loads, every catalog
// exists, and every mirror directory exists.
func TestExamples(t *testing.T) {
	shops, err := registry.Load(t.Context(), filepath.Join("..", "examples", "shops.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := registry.Rows(shops)
	if len(rows) != 5 {
		t.Fatalf("%d example shops, want 5", len(rows))
	}
	for _, r := range rows {
		for _, u := range []string{r.Source.URL, r.Options["image.mirror"]} {
			p, err := url.Parse(u)
			if err != nil || p.Scheme != "file" {
				t.Errorf("%s: %q is not a file URL", r.ShopID, u)
				continue
			}
			if _, err := os.Stat(filepath.FromSlash(p.Path)); err != nil {
				t.Errorf("%s: %v", r.ShopID, err)
			}
		}
		if !strings.HasPrefix(r.OutputPrefix, "shops/"+r.ShopID) {
			t.Errorf("%s: output prefix %q", r.ShopID, r.OutputPrefix)
		}
	}
}

// TestExamplesCSV: examples/shops.csv is the same registry as shops.yaml.
func TestExamplesCSV(t *testing.T) {
	fromYAML, err := registry.Load(t.Context(), filepath.Join("..", "examples", "shops.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, err := registry.Load(t.Context(), filepath.Join("..", "examples", "shops.csv"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(registry.Rows(fromYAML), registry.Rows(fromCSV)); diff != "" {
		t.Errorf("shops.yaml vs shops.csv rows (-yaml +csv):\n%s", diff)
	}
}
