package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/feedbatch/feedbatch/internal/secret"
	"github.com/feedbatch/feedbatch/manifest"
)

// DefaultTable is the PostgreSQL table read when the DSN names none.
const DefaultTable = "feedbatch_shops"

// TableDDL creates a registry table (name substituted for %s). Columns other
// than id and source_url may be left out of an existing table; json columns
// may be json, jsonb or text holding a JSON object, platforms may be text[]
// or text ("google,meta").
const TableDDL = `CREATE TABLE %s (
  id             text PRIMARY KEY,
  name           text NOT NULL DEFAULT '',
  source_url     text NOT NULL,
  source_format  text NOT NULL DEFAULT '',
  source_query   text NOT NULL DEFAULT '',
  source_options jsonb,
  source_mapping jsonb,
  platforms      text[] NOT NULL,
  currency       text NOT NULL DEFAULT '',
  country        text NOT NULL DEFAULT '',
  image          jsonb,
  options        jsonb,
  disabled       boolean NOT NULL DEFAULT false
)`

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$`)

// loadPostgres reads every row of the registry table, in id order.
func loadPostgres(ctx context.Context, dsn string) ([]Shop, error) {
	dsn, err := (&secret.Resolver{}).Resolve(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("registry: bad postgres DSN: %v", secret.Error(err))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("registry: bad postgres DSN query: %v", err)
	}
	table := q.Get("table")
	if table == "" {
		table = DefaultTable
	}
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("registry: bad table name %q (want [schema.]name)", table)
	}
	q.Del("table")
	u.RawQuery = q.Encode()
	where := "table " + table
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("registry %s: connect %s: %w", where, secret.Redact(u.String()), secret.Error(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ident := pgx.Identifier(strings.Split(table, ".")).Sanitize()
	rows, err := conn.Query(ctx, "SELECT * FROM "+ident+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", where, err)
	}
	defer rows.Close()
	var cols []string
	for _, fd := range rows.FieldDescriptions() {
		cols = append(cols, fd.Name)
	}
	var entries []entry
	var errs []error
	n := 0
	for rows.Next() {
		n++
		vals, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("registry %s row %d: %w", where, n, err)
		}
		entries = append(entries, pgShop(cols, vals, n))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry %s: %w", where, err)
	}
	shops, verrs := validate(where, entries, "")
	errs = append(errs, verrs...)
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, fmt.Errorf("%w: %d problem(s):\n%w", ErrInvalid, len(errs), joinErrs(errs))
	}
	return shops, nil
}

func pgShop(cols []string, vals []any, row int) entry {
	e := entry{line: row}
	s := &e.shop
	fail := func(field, format string, args ...any) {
		e.errs = append(e.errs, &Error{Line: row, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	for i, c := range cols {
		v := vals[i]
		if v == nil {
			continue
		}
		switch c {
		case "id":
			s.ID = strings.TrimSpace(pgString(v))
		case "name":
			s.Name = strings.TrimSpace(pgString(v))
		case "source_url":
			s.Source.URL = strings.TrimSpace(pgString(v))
		case "source_format":
			s.Source.Format = strings.ToLower(strings.TrimSpace(pgString(v)))
		case "source_query":
			s.Source.Query = strings.TrimSpace(pgString(v))
		case "source_options":
			s.Source.Options = pgMap(v, func(r string) { fail(c, "%s", r) })
		case "source_mapping", "mapping":
			s.Source.Mapping = pgMap(v, func(r string) { fail(c, "%s", r) })
		case "platforms":
			switch p := v.(type) {
			case []any:
				for _, x := range p {
					if x != nil {
						s.Platforms = append(s.Platforms, pgString(x))
					}
				}
			default:
				s.Platforms = splitList(pgString(v))
			}
		case "currency":
			s.Currency = strings.TrimSpace(pgString(v))
		case "country":
			s.Country = strings.TrimSpace(pgString(v))
		case "image":
			m := pgMap(v, func(r string) { fail(c, "%s", r) })
			if m != nil {
				im := &manifest.ImageSpec{}
				for k, val := range m {
					var err error
					switch k {
					case "width", "height", "quality":
						var n int64
						n, err = strconv.ParseInt(val, 10, 32)
						switch k {
						case "width":
							im.Width = int32(n)
						case "height":
							im.Height = int32(n)
						default:
							im.Quality = int32(n)
						}
					case "background":
						im.Background = strings.TrimPrefix(val, "#")
					case "additional":
						im.Additional, err = strconv.ParseBool(val)
					default:
						fail("image."+k, "unknown field")
					}
					if err != nil {
						fail("image."+k, "bad value %q", val)
					}
				}
				s.Image = im
			}
		case "options":
			s.Options = pgMap(v, func(r string) { fail(c, "%s", r) })
		case "disabled":
			b, ok := v.(bool)
			if !ok {
				fail(c, "want a boolean")
			}
			s.Disabled = b
		default:
			// Other columns (created_at, notes, ...) are the table owner's.
		}
	}
	return e
}

func pgString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// pgMap reads a json/jsonb value (decoded by pgx) or text holding a JSON
// object into a string map; numbers and booleans become their text.
func pgMap(v any, fail func(string)) map[string]string {
	var obj map[string]any
	switch x := v.(type) {
	case map[string]any:
		obj = x
	case string, []byte:
		if err := json.Unmarshal([]byte(pgString(x)), &obj); err != nil {
			fail("want a JSON object: " + err.Error())
			return nil
		}
	default:
		fail(fmt.Sprintf("want a JSON object, not %T", v))
		return nil
	}
	m := make(map[string]string, len(obj))
	for k, val := range obj {
		switch x := val.(type) {
		case string:
			m[k] = x
		case float64, bool, json.Number:
			m[k] = fmt.Sprint(x)
		default:
			fail(fmt.Sprintf("key %q: want a string, number or boolean", k))
		}
	}
	return m
}
