package parse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// JSONArray reads a JSON document that is one array of product objects
// ([{...}, {...}]), streaming element by element; elements are flattened as
// JSONL records are. An element that is not an object is a RowError; a
// syntax error ends the parse (a JSON document cannot be resynchronised).
// One element may be at most maxLineFactor field caps long.
type JSONArray struct {
	dec     *json.Decoder
	guard   *elemGuard
	max     int
	n       int64
	started bool
	done    bool
}

// NewJSONArray returns a parser over r.
func NewJSONArray(r io.Reader, o Options) *JSONArray {
	g := &elemGuard{r: r, max: int64(o.maxField()) * maxLineFactor}
	dec := json.NewDecoder(g)
	dec.UseNumber()
	return &JSONArray{dec: dec, guard: g, max: o.maxField()}
}

var errElemTooLarge = errors.New("an array element is larger than the size cap")

// elemGuard fails a read once one element has read more than max bytes.
type elemGuard struct {
	r     io.Reader
	max   int64
	read  int64
	start int64
}

func (g *elemGuard) Read(p []byte) (int, error) {
	if g.read-g.start > g.max {
		return 0, errElemTooLarge
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}

// Next implements Parser.
func (j *JSONArray) Next() (Record, error) {
	if j.done {
		return Record{}, io.EOF
	}
	if !j.started {
		j.started = true
		tok, err := j.dec.Token()
		if err != nil {
			j.done = true
			return Record{}, fmt.Errorf("json: %w", err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			j.done = true
			return Record{}, fmt.Errorf("json: the document is not an array of products")
		}
	}
	if !j.dec.More() {
		j.done = true
		return Record{}, io.EOF
	}
	j.guard.start = j.dec.InputOffset()
	j.n++
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil {
		j.done = true
		return Record{}, fmt.Errorf("json: element %d: %w", j.n, err)
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return Record{}, &RowError{Reason: ReasonBadJSON, Line: j.n, Detail: "element is not an object"}
	}
	return objectRecord(obj, j.n, j.max)
}
