package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/text/width"

	"github.com/feedbatch/feedbatch/examples"
	"github.com/feedbatch/feedbatch/internal/secret"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/registry"
	"github.com/feedbatch/feedbatch/store"
	"github.com/feedbatch/feedbatch/store/memstore"
)

// exampleRegistry is the registry used when none is given: the example
// shops of a source checkout.
const exampleRegistry = "examples/shops.yaml"

func init() {
	loadRegistry = registryRows

	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print JSON", EnvVars: []string{"FEEDBATCH_JSON"}}
	register(&cli.Command{
		Name:  "manifest",
		Usage: "inspect manifests: which shop is index N, what a run will do, what changed",
		Description: "<run> is a run id under --root (2026-11-23), a re-run (2026-11-23/reruns/1 or 2026-11-23@1),\n" +
			"an s3:// or file:// URL of a manifest, or a path to a .parquet file.",
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("unknown manifest command %q (want show, get, diff or build)", c.Args().First())
			}
			return cli.ShowSubcommandHelp(c)
		},
		Subcommands: []*cli.Command{
			{
				Name:      "show",
				Usage:     "list a manifest's shops: index, shop, name, source, platforms, origin",
				ArgsUsage: "<run|url>",
				Flags:     []cli.Flag{jsonFlag},
				Action:    manifestShow,
			},
			{
				Name:      "get",
				Usage:     "one shop's row, by index (read with ranged reads, as a child does) or by shop id",
				ArgsUsage: "<run|url>",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "index", Usage: "array index", EnvVars: []string{"FEEDBATCH_GET_INDEX"}},
					&cli.StringFlag{Name: "shop", Usage: "shop id", EnvVars: []string{"FEEDBATCH_SHOP"}},
					jsonFlag,
				},
				Action: manifestGet,
			},
			{
				Name:      "diff",
				Usage:     "added, removed and changed shops (with the changed fields) from manifest A to B",
				ArgsUsage: "<a> <b>",
				Flags:     []cli.Flag{jsonFlag},
				Action:    manifestDiff,
			},
			{
				Name:  "build",
				Usage: "write a manifest from a registry without submitting anything (for inspection before a run)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "registry", Aliases: []string{"shops"}, Usage: "shop registry: .yaml/.csv file, store:<key> or postgres:// DSN (default " + exampleRegistry + ")", EnvVars: []string{"FEEDBATCH_REGISTRY"}},
					&cli.StringFlag{Name: "run", Usage: "run id recorded in the manifest (default: today's UTC date)", EnvVars: []string{"FEEDBATCH_RUN"}},
					&cli.StringFlag{Name: "out", Usage: "write the manifest to this file (- for stdout); without it, list the shops", EnvVars: []string{"FEEDBATCH_MANIFEST_OUT"}},
					jsonFlag,
				},
				Action: manifestBuild,
			},
		},
	})
}

// defaultRegistry is the registry used when none is given: the example shops
// of a source checkout when run from one, else the example shops embedded in
// the binary, extracted under the user's cache directory.
func defaultRegistry() (string, error) {
	if _, err := os.Stat(exampleRegistry); err == nil {
		return exampleRegistry, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	reg, err := examples.Extract(filepath.Join(base, "feedbatch", "examples"))
	if err != nil {
		return "", err
	}
	slog.Info("no --registry given: using the bundled example shops", "registry", reg)
	return reg, nil
}

// registryRows loads and validates the registry at src into manifest rows
// (what the planner reads). src is a .yaml/.csv path or file:// URL,
// store:<key>, a key under the root when no such local file exists (a job
// definition's FEEDBATCH_REGISTRY=registry/shops.csv), or a postgres:// DSN;
// "" is the example shops of a source checkout. Invalid registries are
// usage errors listing every problem.
func registryRows(ctx context.Context, src string, st store.Store) ([]manifest.Row, error) {
	if src == "" {
		var err error
		if src, err = defaultRegistry(); err != nil {
			return nil, err
		}
	}
	orig := src
	if !strings.Contains(src, "://") && !strings.HasPrefix(src, "store:") && !filepath.IsAbs(src) && st != nil {
		if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) && store.CheckKey(src) == nil {
			src = "store:" + src
		}
	}
	shops, err := registry.Load(ctx, src, st)
	if src != orig && errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("registry %s: no such file here, nor key under --root: %w", orig, store.ErrNotFound)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("registry %s: no such file: %w", orig, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	rows := registry.Rows(shops)
	if len(rows) == 0 {
		return nil, usagef("registry %s has no enabled shops", src)
	}
	return rows, nil
}

// manifestRef resolves a <run|url> argument to a store and key.
func manifestRef(c *cli.Context, ref string) (store.Store, string, error) {
	ctx := c.Context
	if ref == "" {
		return nil, "", usagef("missing <run|url> argument")
	}
	dirAndKey := func(root, key string) (store.Store, string, error) {
		st, err := openStoreFor(ctx, root, readOnly)
		if err != nil {
			return nil, "", err
		}
		return st, key, nil
	}
	switch {
	case strings.HasPrefix(ref, "s3://"):
		u, err := url.Parse(ref)
		if err != nil || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return nil, "", usagef("%q: want s3://bucket/path/manifest.parquet", ref)
		}
		dir, base := path.Split(strings.TrimPrefix(u.Path, "/"))
		return dirAndKey("s3://"+u.Host+"/"+strings.TrimSuffix(dir, "/"), base)
	case strings.HasPrefix(ref, "file://"):
		u, err := url.Parse(ref)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return nil, "", usagef("%q: want file:///absolute/path/manifest.parquet", ref)
		}
		p := filepath.FromSlash(u.Path)
		if _, err := os.Stat(p); err != nil {
			// Not found before the store would create its directory.
			return nil, "", fmt.Errorf("manifest %s: %w", ref, store.ErrNotFound)
		}
		return dirAndKey(filepath.Dir(p), filepath.Base(p))
	case strings.Contains(ref, "://"):
		return nil, "", usagef("%q: want a run id, an s3:// or file:// URL, or a .parquet path", ref)
	case strings.HasSuffix(ref, ".parquet"):
		abs, err := filepath.Abs(ref)
		if err != nil {
			return nil, "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, "", fmt.Errorf("manifest %s: %w", ref, store.ErrNotFound)
		}
		return dirAndKey(filepath.Dir(abs), filepath.Base(abs))
	}
	key, err := runManifestKey(ref)
	if err != nil {
		return nil, "", err
	}
	return dirAndKey(c.String(rootFlag.Name), key)
}

// runManifestKey maps "<run>", "<run>/reruns/<k>" and "<run>@<k>" to the
// manifest's key under the root.
func runManifestKey(ref string) (string, error) {
	run, k := ref, ""
	if r, rest, ok := strings.Cut(ref, "@"); ok {
		run, k = r, rest
	} else if r, rest, ok := strings.Cut(ref, "/reruns/"); ok {
		run, k = r, strings.TrimSuffix(rest, "/")
	}
	if run == "" || strings.Contains(run, "/") || store.CheckKey(run) != nil {
		return "", usagef("%q: not a run id (want <run>, <run>/reruns/<k>, <run>@<k>, a URL or a .parquet path)", ref)
	}
	if k == "" {
		return manifest.Key(run), nil
	}
	if n, err := strconv.Atoi(k); err != nil || n < 1 {
		return "", usagef("%q: re-run number %q is not a positive number", ref, k)
	}
	return manifest.RerunKey(run, k), nil
}

// args returns the command's positional arguments (flags may follow them)
// and checks their number.
func args(c *cli.Context, want int, usage string) ([]string, error) {
	pos, err := interspersed(c)
	if err != nil {
		return nil, err
	}
	if len(pos) != want {
		return nil, usagef("want %s, got %d argument(s)", usage, len(pos))
	}
	return pos, nil
}

func readManifest(c *cli.Context, ref string) ([]manifest.Row, manifest.Meta, error) {
	st, key, err := manifestRef(c, ref)
	if err != nil {
		return nil, manifest.Meta{}, err
	}
	return manifest.ReadAll(c.Context, st, key)
}

func manifestShow(c *cli.Context) error {
	pos, err := args(c, 1, "<run|url>")
	if err != nil {
		return err
	}
	rows, meta, err := readManifest(c, pos[0])
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Meta manifest.Meta  `json:"meta"`
			Rows []manifest.Row `json:"rows"`
		}{meta, rows})
	}
	printMeta(c.App.Writer, meta)
	printRows(c.App.Writer, rows)
	return nil
}

func printMeta(w io.Writer, m manifest.Meta) {
	run := m.RunID
	if m.Rerun != "" {
		run += " re-run " + m.Rerun
	}
	created := "-"
	if !m.CreatedAt.IsZero() {
		created = m.CreatedAt.Format(time.RFC3339)
	}
	fmt.Fprintf(w, "run %s: %d shops, created %s, schema %s", run, m.Count, created, m.SchemaVersion)
	if m.OriginRun != "" {
		fmt.Fprintf(w, ", origin run %s", m.OriginRun)
	}
	fmt.Fprintln(w)
}

func printRows(w io.Writer, rows []manifest.Row) {
	cells := [][]string{{"INDEX", "SHOP", "NAME", "SOURCE", "PLATFORMS", "ORIGIN"}}
	for _, r := range rows {
		origin := "-"
		if r.OriginRun != "" {
			origin = fmt.Sprintf("%s#%d", r.OriginRun, r.OriginIndex)
		}
		cells = append(cells, []string{strconv.FormatInt(r.Index, 10), r.ShopID, clip(r.Name, 32), sourceSummary(r.Source), strings.Join(r.Platforms, ","), origin})
	}
	printTable(w, cells)
}

// printTable prints rows of cells in columns two spaces apart, measuring
// East Asian wide characters (Korean shop names) as two columns.
func printTable(w io.Writer, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.Reset()
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-displayWidth(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// sourceSummary is "<format> <host or file name>": "csv acme.example",
// "tsv seoul.tsv", "sql db.example".
func sourceSummary(s manifest.Source) string {
	format := s.Format
	where := s.URL
	if u, err := url.Parse(s.URL); err == nil {
		switch u.Scheme {
		case "file":
			where = path.Base(u.Path)
		case "s3":
			where = "s3://" + u.Host
		default:
			where = u.Scheme + "://" + u.Host
		}
		if format == "" {
			format = strings.TrimPrefix(path.Ext(strings.TrimSuffix(u.Path, ".gz")), ".")
		}
	}
	if format == "" {
		format = "auto"
	}
	return format + " " + where
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func manifestGet(c *cli.Context) error {
	pos, err := args(c, 1, "<run|url> --index N | --shop ID")
	if err != nil {
		return err
	}
	idxText, shop := c.String("index"), c.String("shop")
	if (idxText == "") == (shop == "") {
		return usagef("give one of --index N or --shop ID")
	}
	st, key, err := manifestRef(c, pos[0])
	if err != nil {
		return err
	}
	var row manifest.Row
	var meta manifest.Meta
	if idxText != "" {
		idx, err := strconv.ParseInt(idxText, 10, 64)
		if err != nil || idx < 0 {
			return usagef("--index %q: want a number >= 0", idxText)
		}
		f, err := manifest.Open(c.Context, st, key)
		if err != nil {
			return err
		}
		if row, err = f.Row(c.Context, idx); err != nil {
			return err
		}
		meta = f.Meta()
		slogDebug(c, "row read", "index", idx, "bytes_read", f.BytesRead(), "reads", f.Reads())
	} else {
		var rows []manifest.Row
		if rows, meta, err = manifest.ReadAll(c.Context, st, key); err != nil {
			return err
		}
		found := false
		for _, r := range rows {
			if r.ShopID == shop {
				row, found = r, true
				break
			}
		}
		if !found {
			return fmt.Errorf("shop %q is not in run %s (%d shops): %w", shop, meta.RunID, len(rows), store.ErrNotFound)
		}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, row)
	}
	printRow(c.App.Writer, meta, row)
	return nil
}

func printRow(w io.Writer, meta manifest.Meta, r manifest.Row) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	line("run", meta.RunID+map[bool]string{true: " re-run " + meta.Rerun}[meta.Rerun != ""])
	line("index", strconv.FormatInt(r.Index, 10))
	line("shop", r.ShopID)
	line("name", r.Name)
	line("source.url", r.Source.URL)
	line("source.format", r.Source.Format)
	line("source.query", r.Source.Query)
	line("source.options", kv(r.Source.Options))
	line("source.mapping", kv(r.Source.Mapping))
	line("platforms", strings.Join(r.Platforms, ","))
	line("currency", r.Currency)
	line("country", r.Country)
	im := r.Image
	line("image", fmt.Sprintf("%dx%d q%d bg #%s additional=%t", im.Width, im.Height, im.Quality, im.Background, im.Additional))
	line("output_prefix", r.OutputPrefix)
	line("options", kv(r.Options))
	if r.OriginRun != "" {
		line("origin", fmt.Sprintf("run %s index %d", r.OriginRun, r.OriginIndex))
	}
	tw.Flush()
}

func kv(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%s", k, strconv.Quote(m[k]))
	}
	return b.String()
}

func manifestDiff(c *cli.Context) error {
	pos, err := args(c, 2, "<a> <b>")
	if err != nil {
		return err
	}
	a, ma, err := readManifest(c, pos[0])
	if err != nil {
		return err
	}
	b, mb, err := readManifest(c, pos[1])
	if err != nil {
		return err
	}
	d := manifest.DiffRows(a, b)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, d)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "%s (%d shops) -> %s (%d shops): %d added, %d removed, %d changed, %d moved to another index\n",
		ma.RunID, len(a), mb.RunID, len(b), len(d.Added), len(d.Removed), len(d.Changed), d.Moved)
	var cells [][]string
	for _, r := range d.Added {
		cells = append(cells, []string{"+", r.ShopID, clip(r.Name, 32), fmt.Sprintf("index %d", r.Index)})
	}
	for _, r := range d.Removed {
		cells = append(cells, []string{"-", r.ShopID, clip(r.Name, 32), fmt.Sprintf("was index %d", r.Index)})
	}
	for _, ch := range d.Changed {
		cells = append(cells, []string{"~", ch.ShopID, clip(ch.New.Name, 32), strings.Join(ch.Fields, ", ")})
	}
	printTable(w, cells)
	return nil
}

func manifestBuild(c *cli.Context) error {
	if pos, err := interspersed(c); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unexpected argument %q (use --registry)", pos[0])
	}
	ctx := c.Context
	src := c.String("registry")
	var st store.Store
	if strings.HasPrefix(src, "store:") || (src != "" && !strings.Contains(src, "://") && !fileExists(src)) {
		var err error
		st, err = openStoreFor(ctx, c.String(rootFlag.Name), readOnly)
		if errors.Is(err, store.ErrNotFound) {
			st = memstore.New() // no root, so no key under it: nothing is created
		} else if err != nil {
			return err
		}
	}
	rows, err := loadRegistry(ctx, src, st)
	if err != nil {
		return err
	}
	run := c.String("run")
	if run == "" {
		run = time.Now().UTC().Format(time.DateOnly)
	}
	if strings.Contains(run, "/") || store.CheckKey(run) != nil {
		return usagef("--run %q: not a valid run id", run)
	}
	meta := manifest.Meta{RunID: run, CreatedAt: time.Now().UTC(), Extra: map[string]string{"registry": secret.Redact(src), "version": version}}
	out := c.String("out")
	switch out {
	case "":
		meta.Count = int64(len(rows))
		meta.SchemaVersion = manifest.SchemaVersion
		if c.Bool("json") {
			return writeJSON(c.App.Writer, struct {
				Meta manifest.Meta  `json:"meta"`
				Rows []manifest.Row `json:"rows"`
			}{meta, rows})
		}
		printMeta(c.App.Writer, meta)
		printRows(c.App.Writer, rows)
		return nil
	case "-":
		return manifest.Write(c.App.Writer, meta, rows)
	}
	if err := writeFileAtomic(out, func(w io.Writer) error { return manifest.Write(w, meta, rows) }); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	fmt.Fprintf(c.App.ErrWriter, "wrote %s: run %s, %d shops\n", out, run, len(rows))
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// writeFileAtomic writes p through a temporary file in its directory.
func writeFileAtomic(p string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	// CreateTemp makes the file 0600; the result is an ordinary file.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// slogDebug logs at debug level through the command's logger.
func slogDebug(c *cli.Context, msg string, args ...any) {
	newLogger(c).Debug(msg, args...)
}
