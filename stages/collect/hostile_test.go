package collect_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages/collect"
	"github.com/feedbatch/feedbatch/store/memstore"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/korean"
)

// TestHostileCatalog feeds a catalog with broken quoting, mixed encodings,
// control characters, huge fields and missing or extra columns, and checks
// that every bad row is counted by reason and the good ones survive.
func TestHostileCatalog(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("id,title,link,price,description\n")
	good := func(id string) { fmt.Fprintf(&b, "%s,Good %s,https://shop.example/%s,1000,fine\n", id, id, id) }
	for i := range 20 {
		good(fmt.Sprint("g", i))
	}
	euc, _ := korean.EUCKR.NewEncoder().String("한국어 제목")
	fmt.Fprintf(&b, "e1,%s,https://shop.example/e1,1000,legacy encoding\n", euc)               // repaired
	b.WriteString("c1,Ctrl\x01\x02\x7f title,https://shop.example/c1,1000,bell\x07\n")         // cleaned
	b.WriteString("x1,Bad \xff\xfe bytes,https://shop.example/x1,1000,\n")                     // repaired
	b.WriteString("h1,Huge,https://shop.example/h1,1000," + strings.Repeat("A", 2<<20) + "\n") // field_too_large
	b.WriteString("m1,Missing columns\n")                                                      // missing_link
	b.WriteString("t1,Too,https://shop.example/t1,1000,d,extra\n")                             // too_many_fields
	b.WriteString("n1,,https://shop.example/n1,1000,\n")                                       // missing_title
	b.WriteString("p1,Price,https://shop.example/p1,abc,\n")                                   // invalid_price
	b.WriteString("q1,\"broken \"quote\" here\",https://shop.example/q1,1000,x\n")             // lazy quotes: kept as text
	b.WriteString("q2,\"stray \"quote\" unclosed,https://shop.example/q2,1000,x\n")            // bad_quoting, one row
	good("g20")
	b.WriteString("z1,\"never closed,https://shop.example/z1,1000,\n") // bad_quoting (eats the rest)
	b.WriteString("z2,Lost,https://shop.example/z2,1000,\n")
	path := filepath.Join(t.TempDir(), "hostile.csv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	job := newJob(st, manifest.Source{URL: "file://" + path}, "KRW", map[string]string{collect.OptMaxBadShare: "0.5"})
	res, err := collect.New().Run(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	wantDropped := map[string]int64{
		"field_too_large": 1, "missing_link": 1, "too_many_fields": 1, "missing_title": 1, "invalid_price": 1, "bad_quoting": 2,
	}
	if diff := cmp.Diff(wantDropped, res.Dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if res.Counts["fixed_encoding"] != 2 {
		t.Errorf("counts = %v; want 2 encoding repairs", res.Counts)
	}
	ps := readCatalog(t, st, catalog.CatalogKey("shop1", runID))
	titles := map[string]string{}
	for _, p := range ps {
		titles[p.ID] = p.Title
	}
	for id, want := range map[string]string{"e1": "한국어 제목", "c1": "Ctrl title", "x1": "Bad bytes", "q1": `broken "quote" here`, "g20": "Good g20"} {
		if titles[id] != want {
			t.Errorf("title of %s = %q, want %q", id, titles[id], want)
		}
	}
	if res.ItemsIn != 32 || res.ItemsOut != 25 {
		t.Errorf("items in/out = %d/%d, want 32/25", res.ItemsIn, res.ItemsOut)
	}
}

func TestDedupAcrossSortRuns(t *testing.T) {
	defer collect.SetSortChunk(7)()
	var b strings.Builder
	b.WriteString("id,title,link,price\n")
	// 100 rows, ids 0..29 repeating; the last occurrence of each must win.
	for i := range 100 {
		fmt.Fprintf(&b, "id%d,row %d,https://shop.example/%d,100\n", i%30, i, i)
	}
	path := filepath.Join(t.TempDir(), "dups.csv")
	os.WriteFile(path, []byte(b.String()), 0o644)
	st := memstore.New()
	res, err := collect.New().Run(t.Context(), newJob(st, manifest.Source{URL: "file://" + path}, "USD", nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.ItemsOut != 30 || res.Dropped[collect.ReasonDuplicateID] != 70 {
		t.Fatalf("result %+v", res)
	}
	ps := readCatalog(t, st, catalog.CatalogKey("shop1", runID))
	var got []string
	for _, p := range ps {
		got = append(got, p.ID+"="+p.Title)
	}
	var want []string
	for i := 70; i < 100; i++ {
		want = append(want, fmt.Sprintf("id%d=row %d", i%30, i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
