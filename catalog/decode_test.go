package catalog_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/catalog/catalogtest"
	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"
)

// edgeProducts covers what the row decoder must get right: empty and null
// optional columns, empty strings inside a list, lists of 0, 1 and 10
// links, timestamps, negative prices and dictionary values that repeat.
func edgeProducts(n int) []catalog.Product {
	var ps []catalog.Product
	ts := time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC)
	for i := range n {
		p := catalog.Product{
			ID: fmt.Sprintf("id-%d", i), Title: fmt.Sprintf("t%d", i), Link: "https://x/" + fmt.Sprint(i),
			Price: int64(i*7 - 50), Currency: []string{"KRW", "USD", "JPY"}[i%3],
			Availability: catalog.AvailabilityInStock, Condition: catalog.ConditionNew, ShippingCost: int64(i%3 - 1),
		}
		switch i % 5 {
		case 0:
			p.AdditionalImageLinks = []string{"https://x/a.jpg"}
			p.UpdatedAt = ts.Add(time.Duration(i) * time.Hour)
		case 1:
			for k := range catalog.MaxAdditionalImages {
				p.AdditionalImageLinks = append(p.AdditionalImageLinks, fmt.Sprintf("https://x/%d/%d.jpg", i, k))
			}
			p.AvailabilityDate = ts
			p.Availability = catalog.AvailabilityPreorder
		case 2:
			p.AdditionalImageLinks = []string{"", "https://x/b.jpg", ""}
			p.Brand, p.CategoryPath, p.ProductType = "브랜드", "의류 > 니트", "212"
			p.CustomLabel0, p.CustomLabel1, p.CustomLabel2, p.CustomLabel3, p.CustomLabel4 = "a", "b", "c", "d", "e"
		case 3:
			p.ItemGroupID, p.Description, p.MobileLink, p.ImageLink = "g", "desc", "https://m/", "https://i/"
			p.SalePrice, p.GTIN, p.MPN, p.ShippingCountry = 1, "0000000000000", "m", "KR"
		}
		ps = append(ps, p)
	}
	return ps
}

func writeCatalog(t testing.TB, ps []catalog.Product) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := catalog.NewWriter(&buf)
	for _, p := range ps {
		if err := w.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(t testing.TB, data []byte) (*catalog.Reader, []catalog.Product) {
	t.Helper()
	r, err := catalog.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var got []catalog.Product
	for {
		p, err := r.Next()
		if err == io.EOF {
			return r, got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
}

// TestDecoderMatchesGeneric checks that the row decoder gives exactly what
// parquet-go's reflection-based reader gives, and what was written, across
// row group and batch boundaries.
func TestDecoderMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	realistic := func(n int) []catalog.Product {
		var ps []catalog.Product
		for i := range n {
			ps = append(ps, catalogtest.Product(i, r))
		}
		return ps
	}
	for _, tc := range []struct {
		name      string
		ps        []catalog.Product
		groupRows int64 // 0: 100
	}{
		{"empty", nil, 0},
		{"one", edgeProducts(1), 0},
		{"edges-batch-minus-1", edgeProducts(255), 0},
		{"edges-batch", edgeProducts(256), 0},
		{"edges-batch-plus-1", edgeProducts(257), 0},
		{"edges-many-groups", edgeProducts(1031), 0},
		{"edges-group-of-batch", edgeProducts(600), 256},
		{"edges-one-group", edgeProducts(1031), 32768},
		{"realistic", realistic(700), 0},
		// Row groups of 1000 realistic products span several 64 KB pages
		// per column, the list column included.
		{"realistic-many-pages", realistic(2600), 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.groupRows == 0 {
				tc.groupRows = 100
			}
			defer catalog.SetRowGroupRows(tc.groupRows)()
			data := writeCatalog(t, tc.ps)
			cr, got := readAll(t, data)
			if !cr.Decoded() {
				t.Fatal("catalog schema not decoded by the row decoder")
			}
			if diff := cmp.Diff(tc.ps, got); diff != "" {
				t.Errorf("decoder vs written (-want +got):\n%s", diff)
			}
			gr := parquet.NewGenericReader[catalog.Product](bytes.NewReader(data))
			defer gr.Close()
			generic := make([]catalog.Product, gr.NumRows())
			if n, err := gr.Read(generic); n != len(generic) || (err != nil && err != io.EOF) {
				t.Fatalf("generic read %d of %d: %v", n, len(generic), err)
			}
			for i := range generic {
				if len(generic[i].AdditionalImageLinks) == 0 {
					generic[i].AdditionalImageLinks = nil
				}
			}
			if len(generic) == 0 {
				generic = nil
			}
			if diff := cmp.Diff(generic, got); diff != "" {
				t.Errorf("decoder vs GenericReader (-generic +decoder):\n%s", diff)
			}
		})
	}
}

// TestBatchesDoNotLeak checks that a product's fields never carry over from
// the product read at the same slot of an earlier batch.
func TestBatchesDoNotLeak(t *testing.T) {
	full := edgeProducts(5)[1] // every list slot and a timestamp set
	full.Brand, full.CustomLabel4, full.Description, full.SalePrice = "B", "L", "D", 9
	full.UpdatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	bare := catalog.Product{ID: "bare", Title: "t", Link: "l", Currency: "KRW",
		Availability: catalog.AvailabilityInStock, Condition: catalog.ConditionNew}
	for _, tc := range []struct {
		name string
		// full for the first n products, bare after.
		fullRows, rows int
	}{
		{"first-batch-full", 256, 512},
		{"partial-batch", 300, 600},
		{"last-short-batch", 256, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []catalog.Product
			for i := range tc.rows {
				p := bare
				if i < tc.fullRows {
					p = full
				}
				p.ID = fmt.Sprint(i)
				want = append(want, p)
			}
			_, got := readAll(t, writeCatalog(t, want))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestForeignSchemaFallsBack reads a file in another schema (a subset of
// the columns plus one this package does not know) through the generic
// path. It is zstd, as every catalog the project wrote.
func TestForeignSchemaFallsBack(t *testing.T) {
	type old struct {
		ID    string `parquet:"id"`
		Title string `parquet:"title"`
		Price int64  `parquet:"price"`
		Extra string `parquet:"extra"`
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, []old{{"a", "A", 1, "x"}, {"b", "B", 2, "y"}}, parquet.Compression(&parquet.Zstd)); err != nil {
		t.Fatal(err)
	}
	cr, got := readAll(t, buf.Bytes())
	if cr.Decoded() {
		t.Fatal("foreign schema went through the row decoder")
	}
	want := []catalog.Product{{ID: "a", Title: "A", Price: 1}, {ID: "b", Title: "B", Price: 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
