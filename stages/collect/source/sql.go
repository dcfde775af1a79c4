package source

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/feedbatch/feedbatch/internal/secret"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/collect/parse"
)

// SQL streams the rows of a PostgreSQL query as records, one row in memory
// at a time (pgx reads the result as it arrives; nothing collects it). The
// query runs in a read-only transaction, and every column comes back in
// PostgreSQL's text form, named as the query names it; NULL is empty.
type SQL struct {
	conn  *pgx.Conn
	tx    pgx.Tx
	rows  pgx.Rows
	names []string
	array []bool // column i is a PostgreSQL array
	n     int64
}

// IsSQL reports whether rawURL is a PostgreSQL source.
func IsSQL(rawURL string) bool {
	l := strings.ToLower(rawURL)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// OpenSQL connects to dsn, its credential references resolved by secrets
// (nil: a secret.Resolver), and starts query. The ctx is used for the
// whole read and must outlive the returned SQL; Close ends the query.
func OpenSQL(ctx context.Context, secrets Resolver, dsn, query string) (*SQL, error) {
	red := Redact(dsn)
	if strings.TrimSpace(query) == "" {
		return nil, stages.Permanentf("source %s: a postgres source needs a query", red)
	}
	resolved, err := resolve(ctx, secrets, dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(resolved)
	if err != nil {
		return nil, stages.Permanentf("source %s: %v", red, secret.Error(err))
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("source %s: connect: %w", red, secret.Error(err))
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("source %s: begin: %w", red, err)
	}
	rows, err := tx.Query(ctx, query, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		tx.Rollback(ctx)
		conn.Close(ctx)
		return nil, stages.Permanentf("source %s: query: %v", red, err)
	}
	s := &SQL{conn: conn, tx: tx, rows: rows}
	for _, fd := range rows.FieldDescriptions() {
		s.names = append(s.names, fd.Name)
		isArray := false
		if t, ok := conn.TypeMap().TypeForOID(fd.DataTypeOID); ok {
			_, isArray = t.Codec.(*pgtype.ArrayCodec)
		}
		s.array = append(s.array, isArray)
	}
	return s, nil
}

// Columns are the query's column names.
func (s *SQL) Columns() []string { return s.names }

// Next implements parse.Parser.
func (s *SQL) Next() (parse.Record, error) {
	if !s.rows.Next() {
		if err := s.rows.Err(); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && !transientSQLState(pgErr.Code) {
				return parse.Record{}, stages.Permanentf("query: %v", err)
			}
			return parse.Record{}, fmt.Errorf("query: %w: %w", ErrTransient, err)
		}
		return parse.Record{}, errEOF
	}
	s.n++
	raw := s.rows.RawValues()
	vals := make([]string, len(raw))
	for i, b := range raw {
		vals[i] = string(b)
		if s.array[i] {
			vals[i] = arrayText(vals[i])
		}
	}
	return parse.Record{Names: s.names, Values: vals, Line: s.n}, nil
}

// Close ends the query and the connection.
func (s *SQL) Close(ctx context.Context) error {
	s.rows.Close()
	s.tx.Rollback(ctx)
	return s.conn.Close(ctx)
}

// transientSQLState reports SQLSTATE classes worth a retry: connection
// exceptions, transaction rollbacks (serialisation, deadlock), insufficient
// resources, operator intervention and system errors.
func transientSQLState(code string) bool {
	if len(code) < 2 {
		return true
	}
	switch code[:2] {
	case "08", "40", "53", "57", "58":
		return true
	}
	return false
}

// arrayText turns a one-dimensional array's text form ({a,"b c"}) into a
// comma-separated list (a,b c), the form multi-valued fields take.
func arrayText(v string) string {
	if len(v) < 2 || v[0] != '{' || v[len(v)-1] != '}' {
		return v
	}
	var out []string
	var b strings.Builder
	inQuote, esc := false, false
	for _, r := range v[1 : len(v)-1] {
		switch {
		case esc:
			b.WriteRune(r)
			esc = false
		case r == '\\':
			esc = true
		case r == '"':
			inQuote = !inQuote
		case r == ',' && !inQuote:
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteRune(r)
		}
	}
	out = append(out, b.String())
	for i, e := range out {
		if e == "NULL" {
			out[i] = ""
		}
	}
	return strings.Join(out, ",")
}
