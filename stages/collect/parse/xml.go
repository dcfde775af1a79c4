package parse

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// XML reads Google-format product feeds: RSS 2.0 (<item>) and Atom
// (<entry>), with or without the g: namespace. It walks the document token
// by token, holding one item. Each element below an item becomes a field
// named by its local name (g:price and price are both "price"); nested
// elements are dotted ("shipping.price"); repeated elements are joined with
// "," (additional_image_link); Atom's <link href=".."/> gives "link".
//
// A syntax error ends the parse with an error: an XML document cannot be
// resynchronised, and silently keeping half a catalog is worse than failing.
type XML struct {
	dec   *xml.Decoder
	max   int
	guard *runGuard
	done  bool
}

// maxTextRun caps how many bytes may pass without a '<': encoding/xml reads
// a whole text token into memory, so this bounds what one token can cost.
const maxTextRunFactor = 4

// NewXML returns a parser over r. If transcoded is true the input is already
// UTF-8 and an encoding named in the XML declaration is ignored.
func NewXML(r io.Reader, o Options, transcoded bool) *XML {
	g := &runGuard{r: r, max: int64(o.maxField()) * maxTextRunFactor}
	dec := xml.NewDecoder(g)
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	dec.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		if transcoded {
			return input, nil
		}
		l := strings.ToLower(strings.TrimSpace(label))
		if l == "utf-8" || l == "utf8" || l == "" {
			return input, nil
		}
		enc, err := htmlindex.Get(l)
		if err != nil {
			return nil, fmt.Errorf("xml: unknown encoding %q", label)
		}
		return enc.NewDecoder().Reader(input), nil
	}
	return &XML{dec: dec, max: o.maxField(), guard: g}
}

// Next implements Parser.
func (x *XML) Next() (Record, error) {
	if x.done {
		return Record{}, io.EOF
	}
	for {
		tok, err := x.dec.Token()
		if errors.Is(err, io.EOF) {
			x.done = true
			return Record{}, io.EOF
		}
		if err != nil {
			x.done = true
			return Record{}, x.wrap(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Local != "item" && se.Name.Local != "entry" {
			continue
		}
		line, _ := x.dec.InputPos()
		rec, err := x.item(int64(line))
		if err != nil {
			x.done = true
			return Record{}, err
		}
		return rec, nil
	}
}

func (x *XML) wrap(err error) error {
	if errors.Is(err, errTextRun) {
		return fmt.Errorf("xml: %w", err)
	}
	line, col := x.dec.InputPos()
	return fmt.Errorf("xml: line %d column %d: %w", line, col, err)
}

// maxDepth caps element nesting inside one item.
const maxDepth = 32

// item reads up to the end of the current item.
func (x *XML) item(line int64) (Record, error) {
	var (
		names    []string
		values   []string
		index    = map[string]int{}
		path     []string
		text     strings.Builder
		tooLarge bool
	)
	add := func(name, v string) {
		if i, ok := index[name]; ok {
			if v == "" {
				return
			}
			if values[i] != "" {
				v = values[i] + "," + v
			}
			if len(v) > x.max {
				tooLarge = true
				return
			}
			values[i] = v
			return
		}
		index[name] = len(names)
		names = append(names, name)
		values = append(values, v)
	}
	for {
		tok, err := x.dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return Record{}, fmt.Errorf("xml: document ends inside an item (line %d)", line)
			}
			return Record{}, x.wrap(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(path) >= maxDepth {
				return Record{}, fmt.Errorf("xml: elements nested more than %d deep inside the item at line %d", maxDepth, line)
			}
			path = append(path, t.Name.Local)
			text.Reset()
			if t.Name.Local == "link" && len(path) == 1 {
				var href, rel string
				for _, a := range t.Attr {
					switch a.Name.Local {
					case "href":
						href = a.Value
					case "rel":
						rel = a.Value
					}
				}
				if href != "" && (rel == "" || rel == "alternate") {
					add("link", href)
				}
			}
		case xml.CharData:
			if text.Len()+len(t) > x.max {
				tooLarge = true
			} else {
				text.Write(t)
			}
		case xml.EndElement:
			if len(path) == 0 { // end of the item
				if tooLarge {
					return Record{}, &RowError{Reason: ReasonFieldTooLarge, Line: line}
				}
				return Record{Names: names, Values: values, Line: line}, nil
			}
			if s := strings.TrimSpace(text.String()); s != "" {
				add(strings.Join(path, "."), s)
			}
			text.Reset()
			path = path[:len(path)-1]
		}
	}
}

var errTextRun = errors.New("a text run is longer than the size cap (not a product feed?)")

// runGuard fails a read once more than max bytes pass without a '<'.
type runGuard struct {
	r   io.Reader
	max int64
	run int64
}

func (g *runGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	first := bytes.IndexByte(p[:n], '<')
	if first < 0 {
		g.run += int64(n)
	} else {
		if g.run+int64(first) > g.max {
			return 0, errTextRun
		}
		// Runs between two '<' inside p are shorter than p, which is far
		// below max (the decoder reads a few KiB at a time).
		g.run = int64(n - bytes.LastIndexByte(p[:n], '<') - 1)
	}
	if g.run > g.max {
		return 0, errTextRun
	}
	return n, err
}
