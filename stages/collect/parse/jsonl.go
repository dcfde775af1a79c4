package parse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// maxLineFactor: a JSON line may be this many times the field cap before it
// is skipped unread (a record holds many fields).
const maxLineFactor = 8

// JSONL reads JSON Lines: one object per line. Nested objects are flattened
// with dotted names ("price.amount"); arrays of scalars are joined with ","
// (so "images": ["a", "b"] reads as "a,b"), and objects inside arrays are
// flattened under the array's name with repeated names joined the same way.
// null is empty, numbers keep their source text except that an exponent is
// written out (1E+2 and 1.5e1, as Jackson writes BigDecimal, read as 100 and
// 15; see plainNumber), booleans are "true"/"false".
type JSONL struct {
	r    *bufio.Reader
	max  int
	line int64
	buf  []byte
	done bool
}

// NewJSONL returns a JSON Lines parser reading r.
func NewJSONL(r io.Reader, o Options) *JSONL {
	return &JSONL{r: bufio.NewReaderSize(r, 64<<10), max: o.maxField()}
}

// readLine returns the next line without its end; tooLong is set when the
// line passed the cap (its bytes are dropped).
func (j *JSONL) readLine() (line []byte, tooLong bool, err error) {
	j.buf = j.buf[:0]
	limit := j.max * maxLineFactor
	for {
		chunk, err := j.r.ReadSlice('\n')
		if len(j.buf)+len(chunk) <= limit {
			j.buf = append(j.buf, chunk...)
		} else {
			tooLong = true
		}
		switch {
		case err == nil:
			return bytes.TrimRight(j.buf, "\r\n"), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(j.buf) == 0 && !tooLong {
				return nil, false, io.EOF
			}
			return bytes.TrimRight(j.buf, "\r\n"), tooLong, nil
		default:
			return nil, false, err
		}
	}
}

// Next implements Parser.
func (j *JSONL) Next() (Record, error) {
	for {
		if j.done {
			return Record{}, io.EOF
		}
		line, tooLong, err := j.readLine()
		if errors.Is(err, io.EOF) {
			j.done = true
			return Record{}, io.EOF
		}
		if err != nil {
			return Record{}, err
		}
		j.line++
		if tooLong {
			return Record{}, &RowError{Reason: ReasonFieldTooLarge, Line: j.line, Detail: "line too long"}
		}
		line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\ufeff")))
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || obj == nil {
			detail := "not a JSON object"
			if err != nil {
				detail = err.Error()
			}
			return Record{}, &RowError{Reason: ReasonBadJSON, Line: j.line, Detail: detail}
		}
		if dec.More() {
			return Record{}, &RowError{Reason: ReasonBadJSON, Line: j.line, Detail: "more than one value on the line"}
		}
		return objectRecord(obj, j.line, j.max)
	}
}

// objectRecord flattens one JSON object into a record whose columns are the
// object's (dotted) paths in sorted order; a value longer than max bytes is a
// field_too_large row error.
func objectRecord(obj map[string]any, line int64, max int) (Record, error) {
	f := flattener{vals: map[string]string{}}
	f.object("", obj)
	names := slices.Sorted(maps.Keys(f.vals))
	rec := Record{Names: names, Values: make([]string, len(names)), Line: line}
	for i, n := range names {
		v := f.vals[n]
		if len(v) > max {
			return Record{}, &RowError{Reason: ReasonFieldTooLarge, Line: line, Detail: n}
		}
		rec.Values[i] = v
	}
	return rec, nil
}

type flattener struct{ vals map[string]string }

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func (f *flattener) set(name, v string) {
	if old, ok := f.vals[name]; ok && old != "" {
		if v == "" {
			return
		}
		v = old + "," + v
	}
	f.vals[name] = v
}

func (f *flattener) object(prefix string, obj map[string]any) {
	for k, v := range obj {
		f.value(join(prefix, strings.TrimSpace(k)), v)
	}
}

func (f *flattener) value(name string, v any) {
	switch v := v.(type) {
	case nil:
		f.set(name, "")
	case string:
		f.set(name, v)
	case json.Number:
		f.set(name, plainNumber(string(v)))
	case bool:
		if v {
			f.set(name, "true")
		} else {
			f.set(name, "false")
		}
	case map[string]any:
		f.object(name, v)
	case []any:
		for _, e := range v {
			f.value(name, e)
		}
	}
}

// maxPlainDigits bounds the digits plainNumber writes out; a number that
// would need more keeps its source text (no price or quantity has 40 digits).
const maxPlainDigits = 40

// plainNumber writes a JSON number with an exponent in plain decimal
// notation, exactly (no float rounding): "1E+2" -> "100", "1.5e1" -> "15",
// "1.25E-1" -> "0.125", "-2e0" -> "-2". Digits after the point are kept as
// the mantissa has them ("1.50E1" -> "15.0"). A number without an exponent,
// or one needing more than maxPlainDigits digits, is returned unchanged.
func plainNumber(s string) string {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return s
	}
	mant, sign := s[:i], ""
	exp, err := strconv.Atoi(s[i+1:])
	if err != nil || exp > maxPlainDigits || exp < -maxPlainDigits {
		return s
	}
	if strings.HasPrefix(mant, "-") {
		sign, mant = "-", mant[1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + exp // the decimal point sits before digits[point]
	n := len(digits)            // digits written out
	switch {
	case point <= 0:
		n += 1 - point
	case point > len(digits):
		n = point
	}
	if n > maxPlainDigits {
		return s
	}
	if point <= 0 {
		digits, point = strings.Repeat("0", 1-point)+digits, 1
	}
	if point >= len(digits) {
		digits += strings.Repeat("0", point-len(digits))
		point = len(digits)
	}
	whole := strings.TrimLeft(digits[:point], "0")
	if whole == "" {
		whole = "0"
	}
	if point == len(digits) {
		return sign + whole
	}
	return sign + whole + "." + digits[point:]
}
