// Package registry is the list of shops the planner reads: from a YAML or
// CSV file (a local path, a file:// URL or a key in the store) or from a
// PostgreSQL table. Load validates every entry and reports all problems at
// once, each with its line (or table row) and reason; Rows turns the shops
// into manifest rows.
package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/feedbatch/feedbatch/internal/secret"
	"github.com/feedbatch/feedbatch/manifest"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/stages/platform"
	"github.com/feedbatch/feedbatch/store"
)

// Platforms lists the platforms a shop may publish to: those registered in
// stages/platform (one file in stages/feed each).
func Platforms() []string { return platform.Names() }

// Source formats a shop may name ("" lets collect detect it).
var Formats = []string{"", "csv", "tsv", "jsonl", "xml", "sql"}

// Source URL schemes.
var Schemes = []string{"http", "https", "s3", "file", "postgres", "postgresql"}

// Shop is one entry of the registry.
type Shop struct {
	// ID is the shop's stable id: [a-z0-9][a-z0-9._-]{0,63}, safe as a path
	// segment of store keys.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Source is where collect reads the catalog. In a file registry, a
	// relative path is resolved against the registry file's directory.
	Source    manifest.Source `json:"source"`
	Platforms []string        `json:"platforms"`
	Currency  string          `json:"currency,omitempty"`
	Country   string          `json:"country,omitempty"`
	// Image is the image spec; nil means manifest.DefaultImageSpec, and zero
	// fields take the default's value.
	Image *manifest.ImageSpec `json:"image,omitempty"`
	// Options are per-shop stage settings ("stage.key" -> value).
	Options map[string]string `json:"options,omitempty"`
	// Disabled shops are loaded and validated but left out of Rows.
	Disabled bool `json:"disabled,omitempty"`
}

// Error is one problem with one registry entry.
type Error struct {
	// File is the registry's name ("shops.yaml", "table feedbatch_shops").
	File string
	// Line is the line of the entry or field (the row number for a table).
	Line   int
	ShopID string
	Field  string
	Reason string
}

// Error formats as `shops.yaml:12: shop "a b": id: not safe as a path segment`.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case strings.HasPrefix(e.File, "table ") && e.Line > 0:
		fmt.Fprintf(&b, "%s row %d: ", e.File, e.Line)
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	}
	if e.ShopID != "" {
		fmt.Fprintf(&b, "shop %q: ", e.ShopID)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// ErrInvalid is wrapped by every error Load returns for bad registry
// content (as opposed to I/O errors). Check with errors.Is.
var ErrInvalid = errors.New("registry: invalid")

// maxRegistryBytes bounds a registry file read into memory.
const maxRegistryBytes = 64 << 20

// Load reads and validates the shops of src:
//   - a path or file:// URL of a .yaml, .yml or .csv file;
//   - "store:<key>": a .yaml/.yml/.csv object in st;
//   - a postgres:// or postgresql:// DSN; the table is the "table" query
//     parameter (default feedbatch_shops).
//
// All problems are reported, joined, each an *Error.
func Load(ctx context.Context, src string, st store.Store) ([]Shop, error) {
	switch {
	case strings.HasPrefix(src, "postgres://"), strings.HasPrefix(src, "postgresql://"):
		return loadPostgres(ctx, src)
	case strings.HasPrefix(src, "store:"):
		key := strings.TrimPrefix(src, "store:")
		if st == nil {
			return nil, fmt.Errorf("registry %s: no store", src)
		}
		if err := store.CheckKey(key); err != nil {
			return nil, fmt.Errorf("registry %s: %w", src, err)
		}
		rc, err := st.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", src, err)
		}
		defer rc.Close()
		data, err := readLimited(rc)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", src, err)
		}
		return parse(path.Base(key), data, "")
	}
	p := src
	if strings.HasPrefix(src, "file://") {
		u, err := url.Parse(src)
		if err != nil || (u.Host != "" && u.Host != "localhost") {
			return nil, fmt.Errorf("registry %s: want file:///absolute/path", src)
		}
		p = filepath.FromSlash(u.Path)
	} else if strings.Contains(src, "://") {
		return nil, fmt.Errorf("registry %s: want a .yaml/.csv path, file:// URL, store:<key> or postgres:// DSN", src)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", src, err)
	}
	data, err := readFile(abs)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", src, err)
	}
	return parse(filepath.Base(abs), data, filepath.Dir(abs))
}

// Parse parses and validates registry content; name's extension (.yaml,
// .yml, .csv) chooses the format. Relative file paths resolve against
// baseDir; with baseDir "" they are errors.
func Parse(name string, data []byte, baseDir string) ([]Shop, error) {
	return parse(name, data, baseDir)
}

func parse(name string, data []byte, baseDir string) ([]Shop, error) {
	var entries []entry
	var errs []error
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		entries, errs = parseYAML(name, data)
	case ".csv":
		entries, errs = parseCSV(name, data)
	default:
		return nil, fmt.Errorf("registry %s: unknown format (want .yaml, .yml or .csv)", name)
	}
	shops, verrs := validate(name, entries, baseDir)
	errs = append(errs, verrs...)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, fmt.Errorf("%w: %d problem(s):\n%w", ErrInvalid, len(errs), errors.Join(errs...))
	}
	return shops, nil
}

func sortErrors(errs []error) {
	slices.SortStableFunc(errs, func(a, b error) int {
		var ea, eb *Error
		la, lb := 0, 0
		if errors.As(a, &ea) {
			la = ea.Line
		}
		if errors.As(b, &eb) {
			lb = eb.Line
		}
		return la - lb
	})
}

// entry is one parsed registry entry before validation.
type entry struct {
	shop Shop
	line int
	// lines gives the line of each field ("id", "source.url", ...), when the
	// format knows it; missing fields use line.
	lines map[string]int
	// errs are problems found while parsing (wrong types, unknown fields).
	errs []*Error
}

func (e *entry) lineOf(field string) int {
	if l, ok := e.lines[field]; ok {
		return l
	}
	return e.line
}

var (
	idPattern       = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
	countryPattern  = regexp.MustCompile(`^[A-Z]{2}$`)
	hexColorPattern = regexp.MustCompile(`^[0-9a-fA-F]{6}$`)
)

func validate(file string, entries []entry, baseDir string) ([]Shop, []error) {
	// The options a shop may set: every stage's and platform's. Unknown
	// names and bad values are refused here, before anything is submitted,
	// instead of failing every child.
	declared := all.Options()
	var errs []error
	firstLine := map[string]int{}
	shops := make([]Shop, 0, len(entries))
	for i := range entries {
		e := &entries[i]
		s := &e.shop
		bad := len(e.errs) > 0
		for _, pe := range e.errs {
			pe.File = file
			if pe.ShopID == "" {
				pe.ShopID = s.ID
			}
			errs = append(errs, pe)
		}
		fail := func(field, format string, args ...any) {
			bad = true
			errs = append(errs, &Error{File: file, Line: e.lineOf(field), ShopID: s.ID, Field: field, Reason: fmt.Sprintf(format, args...)})
		}
		switch {
		case s.ID == "":
			fail("id", "missing")
		case !idPattern.MatchString(s.ID):
			fail("id", "not safe as a path segment (want [a-z0-9][a-z0-9._-]{0,63})")
		default:
			if l, dup := firstLine[s.ID]; dup {
				fail("id", "duplicate id (first at line %d)", l)
			} else {
				firstLine[s.ID] = e.lineOf("id")
			}
		}
		if strings.ContainsFunc(s.Name, isControl) {
			fail("name", "contains control characters")
		}
		if s.Name == "" {
			s.Name = s.ID
		}
		if msg := checkSource(&s.Source, baseDir); msg != "" {
			fail("source.url", "%s", msg)
		}
		if !slices.Contains(Formats, s.Source.Format) {
			fail("source.format", "unknown format %q (want csv, tsv, jsonl, xml or sql)", s.Source.Format)
		}
		if isPostgres(s.Source.URL) && strings.TrimSpace(s.Source.Query) == "" {
			fail("source.query", "missing (a postgres source needs a SQL query)")
		}
		if !isPostgres(s.Source.URL) && s.Source.Query != "" {
			fail("source.query", "only postgres sources take a query")
		}
		for k := range s.Source.Mapping {
			if k == "" || s.Source.Mapping[k] == "" {
				fail("source.mapping", "empty field or column name in %q: %q", k, s.Source.Mapping[k])
			}
		}
		known := Platforms()
		if len(s.Platforms) == 0 {
			fail("platforms", "missing (want one or more of %s)", strings.Join(known, ", "))
		}
		var plats []string
		for _, p := range s.Platforms {
			p = strings.ToLower(strings.TrimSpace(p))
			if !slices.Contains(known, p) {
				fail("platforms", "unknown platform %q (want %s)", p, strings.Join(known, ", "))
				continue
			}
			if !slices.Contains(plats, p) {
				plats = append(plats, p)
			}
		}
		slices.Sort(plats)
		s.Platforms = plats
		if s.Currency != "" && !currencyPattern.MatchString(s.Currency) {
			fail("currency", "%q is not an ISO 4217 code (want 3 upper-case letters, e.g. KRW)", s.Currency)
		} else if cur := cmp.Or(s.Currency, defaultCurrency[s.Country]); cur != "" {
			for _, p := range plats {
				if spec, _ := platform.Lookup(p); !spec.Accepts(cur) {
					field := "currency"
					if s.Currency == "" {
						field = "country"
					}
					fail(field, "currency %s: platform %s takes only %s (its feed would be empty)", cur, p, strings.Join(spec.Currencies, ", "))
				}
			}
		}
		if s.Country != "" && !countryPattern.MatchString(s.Country) {
			fail("country", "%q is not an ISO 3166-1 code (want 2 upper-case letters, e.g. KR)", s.Country)
		}
		if im := s.Image; im != nil {
			switch {
			case im.Width < 0 || im.Width > 4096 || im.Height < 0 || im.Height > 4096:
				fail("image", "size %dx%d out of range (1..4096)", im.Width, im.Height)
			case im.Quality < 0 || im.Quality > 100:
				fail("image", "quality %d out of range (1..100)", im.Quality)
			case im.Background != "" && !hexColorPattern.MatchString(im.Background):
				fail("image", "background %q is not a hex RGB colour (e.g. ffffff)", im.Background)
			}
		}
		if _, err := declared.Parse(s.Options); err != nil {
			multi, _ := err.(interface{ Unwrap() []error })
			for _, oerr := range multi.Unwrap() {
				var oe *stages.OptionError
				if errors.As(oerr, &oe) {
					bad = true
					errs = append(errs, &Error{File: file, Line: e.lineOf("options." + oe.Name), ShopID: s.ID, Field: "options", Reason: oe.Error()})
				}
			}
		}
		for k, v := range s.Options {
			if o, ok := declared[k]; ok && o.Kind == stages.KindLocation && strings.TrimSpace(v) != "" {
				nv, msg := resolveDir(v, baseDir)
				if msg != "" {
					fail("options."+k, "%s: %s", k, msg)
					continue
				}
				s.Options[k] = nv
			}
		}
		if !bad {
			shops = append(shops, *s)
		}
	}
	return shops, errs
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isPostgres(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// checkSource checks s.URL and makes a relative path absolute (file://).
// It returns a reason, or "".
func checkSource(s *manifest.Source, baseDir string) string {
	raw := strings.TrimSpace(s.URL)
	if raw == "" {
		return "missing"
	}
	if strings.ContainsFunc(raw, isControl) {
		return "contains control characters"
	}
	shown := secret.Redact(raw)
	if _, err := secret.Refs(raw); err != nil {
		return fmt.Sprintf("%q: %v", shown, err)
	}
	if shown != raw {
		return fmt.Sprintf("%q: a credential in plain text; name it instead: ${env:NAME}, ${secretsmanager:NAME} or ${ssm:/path} (see README, The shop registry)", shown)
	}
	if !strings.Contains(raw, "://") {
		if baseDir == "" {
			return fmt.Sprintf("%q: a relative path needs a file registry (use file:///absolute/path)", raw)
		}
		p := raw
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, filepath.FromSlash(p))
		}
		s.URL = (&url.URL{Scheme: "file", Path: filepath.ToSlash(p)}).String()
		return checkLocalFile(raw, p)
	}
	// References stand for values the child resolves; the URL's shape is
	// checked with a word in their place.
	u, err := url.Parse(secret.Placeholder(raw))
	if err != nil {
		return fmt.Sprintf("%q: %v", shown, secret.Error(err))
	}
	scheme := strings.ToLower(u.Scheme)
	if !slices.Contains(Schemes, scheme) {
		return fmt.Sprintf("%q: unsupported scheme %q (want http, https, s3, file or postgres)", raw, u.Scheme)
	}
	switch scheme {
	case "http", "https":
		if u.Hostname() == "" {
			return fmt.Sprintf("%q: no host", raw)
		}
	case "s3":
		if u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return fmt.Sprintf("%q: want s3://bucket/key", raw)
		}
	case "file":
		if (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") {
			return fmt.Sprintf("%q: want file:///absolute/path", raw)
		}
		if raw == secret.Placeholder(raw) {
			if msg := checkLocalFile(raw, filepath.FromSlash(u.Path)); msg != "" {
				return msg
			}
		}
	case "postgres", "postgresql":
		if u.Host == "" {
			return fmt.Sprintf("%q: no host", raw)
		}
		if s.Format == "" {
			s.Format = "sql"
		}
	}
	if s.Format == "sql" && !isPostgres(raw) {
		return fmt.Sprintf("%q: format sql needs a postgres:// source", raw)
	}
	s.URL = raw
	return ""
}

// checkLocalFile says why the local source file p (given as raw) cannot be
// read by collect, or "": a missing file fails every run of the shop.
func checkLocalFile(raw, p string) string {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%q: no such file (%s)", raw, p)
	case err != nil:
		return fmt.Sprintf("%q: %v", raw, err)
	case fi.IsDir():
		return fmt.Sprintf("%q: a directory, not a catalog file", raw)
	}
	return ""
}

// resolveDir makes a relative directory option an absolute file:// URL.
func resolveDir(v, baseDir string) (string, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", "empty"
	}
	if strings.Contains(v, "://") || strings.HasPrefix(v, "store:") {
		return v, ""
	}
	if !filepath.IsAbs(v) {
		if baseDir == "" {
			return "", fmt.Sprintf("%q: a relative path needs a file registry", v)
		}
		v = filepath.Join(baseDir, filepath.FromSlash(v))
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(v)}).String(), ""
}

// defaultCurrency is the currency of shops that name a country but no
// currency.
var defaultCurrency = map[string]string{
	"KR": "KRW", "US": "USD", "JP": "JPY", "GB": "GBP", "CA": "CAD", "AU": "AUD",
	"DE": "EUR", "FR": "EUR", "IT": "EUR", "ES": "EUR", "NL": "EUR", "IE": "EUR",
	"TW": "TWD", "SG": "SGD", "HK": "HKD", "VN": "VND", "TH": "THB", "ID": "IDR",
}

// Rows turns shops into manifest rows: disabled shops left out, sorted by
// shop id, Index 0..n-1, with defaults filled in (image spec, currency from
// the country, output prefix shops/<id>/, no origin).
func Rows(shops []Shop) []manifest.Row {
	var rows []manifest.Row
	for _, s := range shops {
		if s.Disabled {
			continue
		}
		img := manifest.DefaultImageSpec
		if s.Image != nil {
			img.Additional = s.Image.Additional
			if s.Image.Width > 0 {
				img.Width = s.Image.Width
			}
			if s.Image.Height > 0 {
				img.Height = s.Image.Height
			}
			if s.Image.Quality > 0 {
				img.Quality = s.Image.Quality
			}
			if s.Image.Background != "" {
				img.Background = strings.ToLower(s.Image.Background)
			}
		}
		cur := s.Currency
		if cur == "" {
			cur = defaultCurrency[s.Country]
		}
		name := s.Name
		if name == "" {
			name = s.ID
		}
		src := s.Source
		src.Options = cloneMap(src.Options)
		src.Mapping = cloneMap(src.Mapping)
		rows = append(rows, manifest.Row{
			ShopID:       s.ID,
			Name:         name,
			Source:       src,
			Platforms:    slices.Sorted(slices.Values(s.Platforms)),
			Currency:     cur,
			Country:      s.Country,
			Image:        img,
			OutputPrefix: "shops/" + s.ID + "/",
			Options:      cloneMap(s.Options),
			OriginIndex:  -1,
		})
	}
	slices.SortFunc(rows, func(a, b manifest.Row) int { return strings.Compare(a.ShopID, b.ShopID) })
	for i := range rows {
		rows[i].Index = int64(i)
	}
	return rows
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxRegistryBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRegistryBytes {
		return nil, fmt.Errorf("larger than %d MiB", maxRegistryBytes>>20)
	}
	return data, nil
}

func joinErrs(errs []error) error { return errors.Join(errs...) }
