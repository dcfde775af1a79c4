package registry

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/feedbatch/feedbatch/manifest"
)

func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f)
}

// parseYAML reads a registry document: either a list of shops, or a mapping
// with a "shops" list. Every field's line is kept for error messages.
//
//	shops:
//	  - id: acme
//	    name: Acme Outdoor
//	    source: {url: catalogs/acme.csv, format: csv, options: {encoding: utf-8}, mapping: {price: Retail}}
//	    platforms: [google, meta]
//	    currency: USD
//	    country: US
//	    image: {width: 800, height: 800, quality: 85, background: ffffff, additional: false}
//	    options: {feed.max_drop_share: "0.5"}
//	    disabled: false
func parseYAML(file string, data []byte) (entries []entry, errs []error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := yamlErrLine(err)
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, fmt.Sprintf("line %d: ", line))
		return nil, []error{&Error{File: file, Line: line, Reason: "yaml: " + msg}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // empty file: no shops
	}
	root := doc.Content[0]
	list := root
	if root.Kind == yaml.MappingNode {
		list = nil
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			if k.Value == "shops" {
				list = v
				continue
			}
			errs = append(errs, &Error{File: file, Line: k.Line, Field: k.Value, Reason: "unknown top-level key (want shops)"})
		}
		if list == nil {
			return nil, append(errs, &Error{File: file, Line: root.Line, Reason: "no shops list"})
		}
	}
	if list.Kind == yaml.ScalarNode && list.Tag == "!!null" {
		return nil, errs
	}
	if list.Kind != yaml.SequenceNode {
		return nil, append(errs, &Error{File: file, Line: list.Line, Field: "shops", Reason: "want a list of shops"})
	}
	for _, n := range list.Content {
		entries = append(entries, yamlShop(n))
	}
	return entries, errs
}

func yamlErrLine(err error) int {
	// yaml.v3 messages read "yaml: line 12: ...".
	msg := err.Error()
	if _, rest, ok := strings.Cut(msg, "line "); ok {
		num, _, _ := strings.Cut(rest, ":")
		if n, err := strconv.Atoi(num); err == nil {
			return n
		}
	}
	return 0
}

// yamlShop reads one shop mapping, recording problems in the entry.
func yamlShop(n *yaml.Node) entry {
	e := entry{line: n.Line, lines: map[string]int{}}
	if n.Kind != yaml.MappingNode {
		e.errs = append(e.errs, &Error{Line: n.Line, Reason: "want a mapping of shop fields"})
		return e
	}
	s := &e.shop
	d := yamlFields{e: &e}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if l, dup := e.lines[k.Value]; dup {
			d.fail(k.Value, k.Line, "given twice (first at line %d)", l)
		}
		e.lines[k.Value] = k.Line
		switch k.Value {
		case "id":
			s.ID = d.str(k.Value, v)
		case "name":
			s.Name = d.str(k.Value, v)
		case "source":
			d.source(v)
		case "platforms":
			s.Platforms = d.strs(k.Value, v)
		case "currency":
			s.Currency = d.str(k.Value, v)
		case "country":
			s.Country = d.str(k.Value, v)
		case "image":
			d.image(v)
		case "options":
			s.Options = d.strMap(k.Value, v)
		case "disabled":
			s.Disabled = d.boolean(k.Value, v)
		default:
			d.fail(k.Value, k.Line, "unknown field")
		}
	}
	return e
}

type yamlFields struct{ e *entry }

func (d yamlFields) fail(field string, line int, format string, args ...any) {
	d.e.errs = append(d.e.errs, &Error{Line: line, Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (d yamlFields) str(field string, v *yaml.Node) string {
	if v.Kind != yaml.ScalarNode {
		d.fail(field, v.Line, "want a string")
		return ""
	}
	if v.Tag == "!!null" {
		return ""
	}
	return strings.TrimSpace(v.Value)
}

func (d yamlFields) strs(field string, v *yaml.Node) []string {
	if v.Kind == yaml.ScalarNode { // "google, meta" is accepted too
		return splitList(v.Value)
	}
	if v.Kind != yaml.SequenceNode {
		d.fail(field, v.Line, "want a list")
		return nil
	}
	var out []string
	for _, c := range v.Content {
		out = append(out, d.str(field, c))
	}
	return out
}

func (d yamlFields) strMap(field string, v *yaml.Node) map[string]string {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		d.fail(field, v.Line, "want a mapping")
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if k.Kind != yaml.ScalarNode || val.Kind != yaml.ScalarNode {
			d.fail(field, k.Line, "want key: value strings")
			continue
		}
		if _, dup := m[k.Value]; dup {
			d.fail(field, k.Line, "key %q given twice", k.Value)
		}
		m[k.Value] = val.Value
		d.e.lines[field+"."+k.Value] = k.Line
	}
	return m
}

func (d yamlFields) boolean(field string, v *yaml.Node) bool {
	var b bool
	if v.Kind != yaml.ScalarNode || v.Decode(&b) != nil {
		d.fail(field, v.Line, "want true or false")
	}
	return b
}

func (d yamlFields) int32(field string, v *yaml.Node) int32 {
	var n int32
	if v.Kind != yaml.ScalarNode || v.Decode(&n) != nil {
		d.fail(field, v.Line, "want a whole number")
	}
	return n
}

func (d yamlFields) source(v *yaml.Node) {
	s := &d.e.shop.Source
	if v.Kind == yaml.ScalarNode { // source: https://...
		s.URL = d.str("source", v)
		d.e.lines["source.url"] = v.Line
		return
	}
	if v.Kind != yaml.MappingNode {
		d.fail("source", v.Line, "want a URL or a mapping")
		return
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		field := "source." + k.Value
		d.e.lines[field] = k.Line
		switch k.Value {
		case "url":
			s.URL = d.str(field, val)
		case "format":
			s.Format = strings.ToLower(d.str(field, val))
		case "query":
			s.Query = d.str(field, val)
		case "options":
			s.Options = d.strMap(field, val)
		case "mapping":
			s.Mapping = d.strMap(field, val)
		default:
			d.fail(field, k.Line, "unknown field")
		}
	}
}

func (d yamlFields) image(v *yaml.Node) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return
	}
	if v.Kind != yaml.MappingNode {
		d.fail("image", v.Line, "want a mapping")
		return
	}
	im := &manifest.ImageSpec{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		field := "image." + k.Value
		switch k.Value {
		case "width":
			im.Width = d.int32(field, val)
		case "height":
			im.Height = d.int32(field, val)
		case "quality":
			im.Quality = d.int32(field, val)
		case "background":
			im.Background = strings.TrimPrefix(d.str(field, val), "#")
		case "additional":
			im.Additional = d.boolean(field, val)
		default:
			d.fail(field, k.Line, "unknown field")
		}
	}
	d.e.lines["image"] = v.Line
	d.e.shop.Image = im
}

// splitList splits "google, meta" / "google;meta" / "google meta naver".
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '|' || r == ' ' || r == '\t' })
}
