package parse

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CSV reads delimited text with a header row. It follows RFC 4180 where the
// file does and is lenient where exports are not: a quote inside an
// unquoted field is a literal, a quote in a quoted field that is not doubled
// and not followed by a delimiter or line end is kept as a literal (lazy
// quotes) — but a line end after such a stray quote ends the record as
// broken, so one bad quote costs one row, not the rest of the file —, CRLF
// and LF both end records, blank lines are skipped, and records
// shorter than the header are padded with empty values. A quoted field still
// open at the end of the file, a record longer than the header, or a field
// over the size cap make that record a *RowError.
type CSV struct {
	r        *bufio.Reader
	delim    byte
	quote    byte
	hasQuote bool
	max      int
	header   []string
	line     int64
	field    []byte
	done     bool
}

// NewCSV reads the header row of r. A leading UTF-8 byte order mark is
// dropped. The delimiter and quote must be ASCII.
func NewCSV(r io.Reader, o Options) (*CSV, error) {
	c := &CSV{r: bufio.NewReaderSize(r, 64<<10), delim: ',', max: o.maxField(), line: 1}
	if o.Delimiter != 0 {
		if o.Delimiter > 127 || o.Delimiter == '\n' || o.Delimiter == '\r' {
			return nil, fmt.Errorf("csv: delimiter %q: must be one ASCII character other than a line end", o.Delimiter)
		}
		c.delim = byte(o.Delimiter)
	}
	if o.Quote != 0 {
		if o.Quote > 127 || byte(o.Quote) == c.delim || o.Quote == '\n' || o.Quote == '\r' {
			return nil, fmt.Errorf("csv: quote %q: must be one ASCII character other than the delimiter or a line end", o.Quote)
		}
		c.quote, c.hasQuote = byte(o.Quote), true
	}
	if b, err := c.r.Peek(3); err == nil && string(b) == "\ufeff" {
		c.r.Discard(3)
	}
	for {
		fields, _, reason, err := c.readRecord()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("csv: no header row (empty file)")
		}
		if err != nil {
			return nil, fmt.Errorf("csv: header: %w", err)
		}
		if reason != "" {
			return nil, fmt.Errorf("csv: header row: %s", reason)
		}
		if len(fields) == 1 && fields[0] == "" {
			continue
		}
		for i, f := range fields {
			f = strings.TrimSpace(strings.TrimPrefix(f, "\ufeff"))
			if f == "" {
				f = fmt.Sprintf("column_%d", i+1)
			}
			fields[i] = f
		}
		c.header = fields
		return c, nil
	}
}

// Header returns the header row's names.
func (c *CSV) Header() []string { return c.header }

// Next implements Parser.
func (c *CSV) Next() (Record, error) {
	for {
		fields, start, reason, err := c.readRecord()
		if err != nil {
			return Record{}, err
		}
		if reason == "" && len(fields) == 1 && fields[0] == "" {
			continue // blank line
		}
		if reason != "" {
			return Record{}, &RowError{Reason: reason, Line: start}
		}
		if len(fields) > len(c.header) {
			for _, f := range fields[len(c.header):] {
				if strings.TrimSpace(f) != "" {
					return Record{}, &RowError{Reason: ReasonTooManyFields, Line: start,
						Detail: fmt.Sprintf("%d fields, header has %d", len(fields), len(c.header))}
				}
			}
			fields = fields[:len(c.header)]
		}
		for len(fields) < len(c.header) {
			fields = append(fields, "")
		}
		return Record{Names: c.header, Values: fields, Line: start}, nil
	}
}

func (c *CSV) add(b byte, tooLarge *bool) {
	if len(c.field) < c.max {
		c.field = append(c.field, b)
	} else {
		*tooLarge = true
	}
}

// readRecord reads one record. reason is non-empty for a broken record;
// err is io.EOF at the end of input or a read error.
func (c *CSV) readRecord() (fields []string, start int64, reason string, err error) {
	if c.done {
		return nil, 0, "", io.EOF
	}
	start = c.line
	tooLarge := false
	endField := func() {
		fields = append(fields, string(c.field))
		c.field = c.field[:0]
	}
	finish := func() (bool, error) { // consumes '\n' after '\r'
		nb, err := c.r.ReadByte()
		if err == nil && nb != '\n' {
			c.r.UnreadByte()
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		return true, nil
	}
	for {
		b, rerr := c.r.ReadByte()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				return nil, start, "", rerr
			}
			c.done = true
			if len(fields) == 0 {
				return nil, start, "", io.EOF
			}
			endField()
			break
		}
		if c.hasQuote && b == c.quote {
			closed, stray := false, false
			for !closed {
				b, rerr = c.r.ReadByte()
				if rerr != nil {
					if !errors.Is(rerr, io.EOF) {
						return nil, start, "", rerr
					}
					c.done = true
					endField()
					return fields, start, ReasonBadQuoting, nil
				}
				if b != c.quote {
					if b == '\n' {
						c.line++
						if stray {
							// A stray quote and then a line end: the field was
							// never closed. End the record here rather than
							// swallow the lines after it.
							endField()
							return fields, start, ReasonBadQuoting, nil
						}
					}
					c.add(b, &tooLarge)
					if buf, _ := c.r.Peek(c.r.Buffered()); len(buf) > 0 {
						i := 0
						for i < len(buf) && buf[i] != c.quote && buf[i] != '\n' {
							i++
						}
						if room := c.max - len(c.field); i > room {
							c.field = append(c.field, buf[:max(room, 0)]...)
							tooLarge = true
						} else {
							c.field = append(c.field, buf[:i]...)
						}
						c.r.Discard(i)
					}
					continue
				}
				nb, rerr := c.r.ReadByte()
				switch {
				case rerr != nil:
					if !errors.Is(rerr, io.EOF) {
						return nil, start, "", rerr
					}
					c.done = true
					endField()
					return fields, start, tooLargeReason(tooLarge), nil
				case nb == c.quote:
					c.add(c.quote, &tooLarge)
				case nb == c.delim:
					endField()
					closed = true
				case nb == '\n':
					c.line++
					endField()
					return fields, start, tooLargeReason(tooLarge), nil
				case nb == '\r':
					if _, err := finish(); err != nil {
						return nil, start, "", err
					}
					c.line++
					endField()
					return fields, start, tooLargeReason(tooLarge), nil
				default:
					// Lazy quote: keep it and stay inside the quoted field.
					c.add(c.quote, &tooLarge)
					c.r.UnreadByte()
					stray = true
				}
			}
			continue
		}
		// Unquoted field: read up to the delimiter or line end.
		for b != c.delim {
			switch b {
			case '\n':
				c.line++
				endField()
				return fields, start, tooLargeReason(tooLarge), nil
			case '\r':
				if _, err := finish(); err != nil {
					return nil, start, "", err
				}
				c.line++
				endField()
				return fields, start, tooLargeReason(tooLarge), nil
			}
			c.add(b, &tooLarge)
			// Copy the rest of the field straight from the buffer.
			if buf, _ := c.r.Peek(c.r.Buffered()); len(buf) > 0 {
				i := 0
				for i < len(buf) && buf[i] != c.delim && buf[i] != '\n' && buf[i] != '\r' {
					i++
				}
				if room := c.max - len(c.field); i > room {
					c.field = append(c.field, buf[:max(room, 0)]...)
					tooLarge = true
				} else {
					c.field = append(c.field, buf[:i]...)
				}
				c.r.Discard(i)
			}
			b, rerr = c.r.ReadByte()
			if rerr != nil {
				if !errors.Is(rerr, io.EOF) {
					return nil, start, "", rerr
				}
				c.done = true
				endField()
				return fields, start, tooLargeReason(tooLarge), nil
			}
		}
		endField()
	}
	return fields, start, tooLargeReason(tooLarge), nil
}

func tooLargeReason(tooLarge bool) string {
	if tooLarge {
		return ReasonFieldTooLarge
	}
	return ""
}
