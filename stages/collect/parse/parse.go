// Package parse turns a catalog source's bytes into records: CSV/TSV, JSON
// Lines and Google-format RSS/Atom XML. Every parser streams: it holds one
// record in memory at a time, and caps each field (Options.MaxFieldBytes) so
// that a hostile file cannot make it grow without bound.
//
// A parser's Next returns the next record, io.EOF after the last one, a
// *RowError for a record that is broken but can be skipped (the caller
// counts it by Reason and goes on), or any other error for a source that
// cannot be read further.
package parse

import (
	"errors"
	"fmt"
)

// DefaultMaxFieldBytes caps one field's size; larger fields make their record
// a RowError with reason ReasonFieldTooLarge.
const DefaultMaxFieldBytes = 1 << 20

// Row error reasons (the keys of a collect result's Dropped counts).
const (
	ReasonFieldTooLarge = "field_too_large"
	ReasonBadQuoting    = "bad_quoting"
	ReasonTooManyFields = "too_many_fields"
	ReasonBadJSON       = "bad_json"
	ReasonBadXML        = "bad_xml_item"
)

// Record is one product row as the source names it.
type Record struct {
	// Names are the field names; CSV and SQL parsers share one slice between
	// records, so callers must not modify it.
	Names []string
	// Values[i] is the value of Names[i].
	Values []string
	// Line is where the record starts in the source (1-based line for text
	// formats, row number for SQL), for messages.
	Line int64
}

// Get returns the value of the first field called name (exact match).
func (r Record) Get(name string) (string, bool) {
	for i, n := range r.Names {
		if n == name {
			return r.Values[i], true
		}
	}
	return "", false
}

// RowError is a record that cannot be used; the parser can go on.
type RowError struct {
	Reason string
	Line   int64
	Detail string
}

// Error names the line, the reason and the detail.
func (e *RowError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Reason, e.Detail)
}

// AsRowError reports whether err is a skippable row error.
func AsRowError(err error) (*RowError, bool) {
	var re *RowError
	if errors.As(err, &re) {
		return re, true
	}
	return nil, false
}

// Parser yields records.
type Parser interface {
	// Next returns the next record, io.EOF at the end, a *RowError for a
	// skippable broken record, or another error when reading cannot go on.
	Next() (Record, error)
}

// Options configure the text parsers.
type Options struct {
	// Delimiter of CSV/TSV fields; 0 means ',' (CSV) or '\t' (TSV).
	Delimiter rune
	// Quote is the CSV quote character; 0 means none (no quoting at all).
	Quote rune
	// MaxFieldBytes caps one field; 0 means DefaultMaxFieldBytes.
	MaxFieldBytes int
}

func (o Options) maxField() int {
	if o.MaxFieldBytes <= 0 {
		return DefaultMaxFieldBytes
	}
	return o.MaxFieldBytes
}
