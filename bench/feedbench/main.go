// Command feedbench measures the feed stage on a generated catalog; it is
// driven by bench/feed.sh.
//
//	feedbench gen -n 1000000 -out catalog.parquet -csv catalog.csv
//	feedbench read -catalog catalog.parquet
//	feedbench render -catalog catalog.parquet -platform google [-raw] [-level 6] -out google.xml.gz
//	feedbench gzip -in google.xml -level 6
//
// Every mode but gen prints one JSON line: what it did, seconds, items,
// bytes, and the process's peak RSS.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/catalog/catalogtest"
	"github.com/feedbatch/feedbatch/stages/feed"
	"github.com/klauspost/compress/gzip"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: feedbench gen|read|render|gzip [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "read":
		err = read(os.Args[2:])
	case "render":
		err = render(os.Args[2:])
	case "gzip":
		err = gz(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "feedbench:", err)
		os.Exit(1)
	}
}

type report struct {
	Mode     string  `json:"mode"`
	Platform string  `json:"platform,omitempty"`
	Items    int64   `json:"items"`
	Seconds  float64 `json:"seconds"`
	// CPUSeconds is user+system time: the machine is shared, so wall time
	// alone says little.
	CPUSeconds float64 `json:"cpu_seconds"`
	RawBytes   int64   `json:"raw_bytes"`
	Bytes      int64   `json:"bytes"`
	MaxRSSKB   int64   `json:"maxrss_kb"`
}

func (r report) print(start time.Time) {
	r.Seconds = time.Since(start).Seconds()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	r.MaxRSSKB = ru.Maxrss
	r.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	n := fs.Int("n", 1000000, "products")
	out := fs.String("out", "catalog.parquet", "catalog file")
	csvOut := fs.String("csv", "", "also export the catalog as CSV (for the Python comparison)")
	fs.Parse(args)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := catalog.NewWriter(bw)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range *n {
		if err := w.Write(catalogtest.Product(i, r)); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if *csvOut != "" {
		return exportCSV(*out, *csvOut)
	}
	return nil
}

// exportCSV writes the catalog as CSV, read back from the Parquet file, so
// the Python conversion gets exactly the same products.
func exportCSV(in, out string) error {
	cf, err := os.Open(in)
	if err != nil {
		return err
	}
	defer cf.Close()
	st, _ := cf.Stat()
	cr, err := catalog.NewReader(cf, st.Size())
	if err != nil {
		return err
	}
	defer cr.Close()
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	w.Write([]string{"id", "item_group_id", "title", "description", "link", "mobile_link", "image_link",
		"additional_image_links", "price", "sale_price", "currency", "availability", "condition", "brand",
		"gtin", "mpn", "category_path", "product_type", "shipping_cost", "shipping_country", "custom_label_0"})
	for {
		p, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		w.Write([]string{p.ID, p.ItemGroupID, p.Title, p.Description, p.Link, p.MobileLink, p.ImageLink,
			strings.Join(p.AdditionalImageLinks, " "), strconv.FormatInt(p.Price, 10),
			strconv.FormatInt(p.SalePrice, 10), p.Currency, p.Availability, p.Condition, p.Brand,
			p.GTIN, p.MPN, p.CategoryPath, p.ProductType, strconv.FormatInt(p.ShippingCost, 10),
			p.ShippingCountry, p.CustomLabel0})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func openCatalog(path string) (*catalog.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	r, err := catalog.NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return r, func() { r.Close(); f.Close() }, nil
}

func read(args []string) error {
	fs := flag.NewFlagSet("read", flag.ExitOnError)
	in := fs.String("catalog", "catalog.parquet", "catalog file")
	fs.Parse(args)
	start := time.Now()
	r, done, err := openCatalog(*in)
	if err != nil {
		return err
	}
	defer done()
	var n int64
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n++
	}
	report{Mode: "read", Items: n}.print(start)
	return nil
}

func render(args []string) error {
	fs := flag.NewFlagSet("render", flag.ExitOnError)
	in := fs.String("catalog", "catalog.parquet", "catalog file")
	platforms := fs.String("platform", "google", "comma-separated platforms")
	raw := fs.Bool("raw", false, "write uncompressed")
	level := fs.Int("level", 6, "gzip level")
	out := fs.String("out", "", "keep the (first) output here")
	prof := fs.String("cpuprofile", "", "write a CPU profile")
	gcPercent := fs.Int("gcpercent", feed.DefaultGCPercent, "GC target while rendering, as the stage sets it (0: leave GOGC alone)")
	fs.Parse(args)
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	r, done, err := openCatalog(*in)
	if err != nil {
		return err
	}
	defer done()
	var plats []feed.Platform
	for _, name := range strings.Split(*platforms, ",") {
		p, err := feed.NewPlatform(name, feed.Config{Country: "KR"})
		if err != nil {
			return err
		}
		plats = append(plats, p)
	}
	dir := "."
	if *out != "" {
		dir = dirOf(*out)
	}
	rd := &feed.Renderer{Platforms: plats, Channel: feed.Channel{ShopID: "bench", Title: "Bench shop"},
		Level: *level, Raw: *raw, TempDir: dir, GCPercent: *gcPercent}
	outs, err := rd.Render(context.Background(), r.Next)
	if err != nil {
		return err
	}
	rep := report{Mode: "render", Platform: *platforms}
	if *raw {
		rep.Mode = "format"
	}
	for i, o := range outs {
		rep.Items += o.Items
		rep.RawBytes += o.RawBytes
		rep.Bytes += o.Bytes
		if i == 0 && *out != "" {
			err := writeFile(*out, o.Reader())
			o.Remove()
			if err != nil {
				return err
			}
		} else {
			o.Remove()
		}
	}
	rep.print(start)
	return nil
}

func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i+1]
	}
	return "."
}

// gz compresses a file with the same gzip writer and level the stage uses,
// to /dev/null: the cost of compression alone on the feed's bytes.
func gz(args []string) error {
	fs := flag.NewFlagSet("gzip", flag.ExitOnError)
	in := fs.String("in", "", "uncompressed feed")
	level := fs.Int("level", 6, "gzip level")
	fs.Parse(args)
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	c := &countW{}
	zw, err := gzip.NewWriterLevel(c, *level)
	if err != nil {
		return err
	}
	n, err := io.Copy(zw, f)
	if err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	report{Mode: "gzip", RawBytes: n, Bytes: c.n}.print(start)
	return nil
}

type countW struct{ n int64 }

func (c *countW) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// writeFile writes r to a new file at path.
func writeFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
