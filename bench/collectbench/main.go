// Command collectbench generates synthetic shop catalogs and runs the
// collect stage on them, for bench/collect.sh.
//
//	collectbench -gen 100000 -out catalog.csv.gz    write a gzip CSV of N products
//	collectbench -src catalog.csv.gz -root DIR      run collect into a file store at DIR
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/collect"
	"github.com/feedbatch/feedbatch/store/filestore"
)

func main() {
	gen := flag.Int("gen", 0, "generate this many products")
	out := flag.String("out", "", "output file for -gen (.csv.gz)")
	src := flag.String("src", "", "catalog file to collect")
	root := flag.String("root", "", "file store directory for the collect output")
	prof := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if *prof != "" {
		pf, err := os.Create(*prof)
		if err == nil && pprof.StartCPUProfile(pf) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	var err error
	switch {
	case *gen > 0:
		err = generate(*gen, *out)
	case *src != "":
		err = run(*src, *root)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "collectbench:", err)
		os.Exit(1)
	}
}

var (
	adjectives = []string{"Classic", "Slim", "Organic", "Premium", "Vintage", "Compact", "Wireless", "Handmade", "Waterproof", "Lightweight"}
	nouns      = []string{"Cotton T-Shirt", "Leather Wallet", "Ceramic Mug", "Running Shoes", "Desk Lamp", "Backpack", "Wool Scarf", "Phone Case", "Water Bottle", "Sunglasses"}
	brands     = []string{"Acme", "Hanil", "Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Litware"}
	cats       = []string{"Apparel > Tops > T-Shirts", "Accessories > Wallets", "Home > Kitchen > Mugs", "Shoes > Running", "Home > Lighting", "Bags > Backpacks"}
	words      = strings.Fields("soft durable everyday comfort design quality material made with care for daily use easy to clean gift idea perfect fit modern look")
)

// generate writes n realistic product rows (about 400 bytes each), with 1%
// duplicate ids, 0.5% rows without a price and a few quoted fields.
func generate(n int, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.DefaultCompression)
	w := bufio.NewWriterSize(zw, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	fmt.Fprintln(w, "id,item_group_id,title,description,link,image_link,additional_image_link,price,sale_price,availability,brand,gtin,category,updated_at")
	for i := range n {
		id := i
		if r.IntN(100) == 0 && i > 0 {
			id = r.IntN(i) // duplicate
		}
		title := fmt.Sprintf("%s %s %s", brands[r.IntN(len(brands))], adjectives[r.IntN(len(adjectives))], nouns[r.IntN(len(nouns))])
		var desc strings.Builder
		for range 18 + r.IntN(10) {
			desc.WriteString(words[r.IntN(len(words))])
			desc.WriteByte(' ')
		}
		price := fmt.Sprintf("%d.%02d", 5+r.IntN(300), r.IntN(100))
		if r.IntN(200) == 0 {
			price = ""
		}
		sale := ""
		if r.IntN(4) == 0 {
			sale = "4.99"
		}
		avail := "in stock"
		if r.IntN(10) == 0 {
			avail = "out of stock"
		}
		fmt.Fprintf(w, "SKU-%08d,G-%06d,\"%s, size %d\",\"%s\",https://shop.example.com/products/sku-%08d?ref=feed,https://cdn.shop.example.com/img/%08d/main.jpg,https://cdn.shop.example.com/img/%08d/alt1.jpg,%s USD,%s,%s,%s,%013d,%s,2026-11-%02dT10:00:00Z\n",
			id, id/3, title, 36+r.IntN(10), strings.TrimSpace(desc.String()), id, id, id, price, sale, avail,
			brands[r.IntN(len(brands))], 4000000000000+int64(id), cats[r.IntN(len(cats))], 1+r.IntN(28))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

func run(src, root string) error {
	ctx := context.Background()
	st, err := filestore.New(root)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(src)
	job := stages.Job{
		RunID:       "bench",
		ManifestKey: "runs/bench/manifest.parquet",
		Row: manifest.Row{ShopID: "bench", Currency: "USD", OriginIndex: -1,
			Source: manifest.Source{URL: "file://" + abs}},
		Store: st,
		Log:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	// Remove the last run's source state so the run is a full fetch.
	st.Delete(ctx, collect.SourceStateKey("bench"))
	start := time.Now()
	res, err := collect.New().Run(ctx, job)
	if err != nil {
		return err
	}
	out := map[string]any{"seconds": time.Since(start).Seconds(), "items_in": res.ItemsIn, "items_out": res.ItemsOut,
		"dropped": res.Dropped, "bytes": res.Bytes, "source_bytes": res.Counts["source_bytes"]}
	return json.NewEncoder(os.Stdout).Encode(out)
}
