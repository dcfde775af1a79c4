package registry

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/feedbatch/feedbatch/manifest"
)

// CSV registries have a header row. Column names (case-insensitive; "_" and
// "." are interchangeable in the fixed names):
//
//	id, name, source.url, source.format, source.query, platforms (google;meta),
//	currency, country, image.width, image.height, image.quality,
//	image.background, image.additional, disabled,
//	source.options.<key>, source.mapping.<field>, options.<stage.key>
//
// An empty cell leaves the field unset.
var csvColumns = map[string]string{
	"id": "id", "name": "name",
	"source": "source.url", "source.url": "source.url", "url": "source.url",
	"source.format": "source.format", "format": "source.format",
	"source.query": "source.query", "query": "source.query",
	"platforms": "platforms", "currency": "currency", "country": "country",
	"image.width": "image.width", "image.height": "image.height", "image.quality": "image.quality",
	"image.background": "image.background", "image.additional": "image.additional",
	"disabled": "disabled",
}

func parseCSV(file string, data []byte) (entries []entry, errs []error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	r := csv.NewReader(bytes.NewReader(data))
	r.TrimLeadingSpace = true
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, []error{csvError(file, err)}
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		name, ok := csvColumns[strings.ReplaceAll(h, "_", ".")]
		switch {
		case ok:
		case strings.HasPrefix(h, "source.options.") && len(h) > len("source.options."),
			strings.HasPrefix(h, "source.mapping.") && len(h) > len("source.mapping."),
			strings.HasPrefix(h, "options.") && len(h) > len("options."):
			name = strings.TrimSpace(header[i]) // keep the key's case
		default:
			errs = append(errs, &Error{File: file, Line: 1, Field: header[i], Reason: "unknown column"})
			continue
		}
		if seen[strings.ToLower(name)] {
			errs = append(errs, &Error{File: file, Line: 1, Field: header[i], Reason: "column given twice"})
			continue
		}
		seen[strings.ToLower(name)] = true
		cols[i] = name
	}
	if !seen["id"] {
		errs = append(errs, &Error{File: file, Line: 1, Field: "id", Reason: "no id column"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs = append(errs, csvError(file, err))
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				continue
			}
			break
		}
		line, _ := r.FieldPos(0)
		entries = append(entries, csvShop(cols, rec, line))
	}
	return entries, errs
}

func csvError(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &Error{File: file, Line: pe.Line, Reason: "csv: " + pe.Err.Error()}
	}
	return &Error{File: file, Reason: "csv: " + err.Error()}
}

func csvShop(cols, rec []string, line int) entry {
	e := entry{line: line}
	s := &e.shop
	fail := func(field, reason string) {
		e.errs = append(e.errs, &Error{Line: line, Field: field, Reason: reason})
	}
	num := func(field, v string) int32 {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			fail(field, "want a whole number, not "+strconv.Quote(v))
		}
		return int32(n)
	}
	boolean := func(field, v string) bool {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			fail(field, "want true or false, not "+strconv.Quote(v))
		}
		return b
	}
	image := func() *manifest.ImageSpec {
		if s.Image == nil {
			s.Image = &manifest.ImageSpec{}
		}
		return s.Image
	}
	for i, v := range rec {
		v = strings.TrimSpace(v)
		if v == "" || cols[i] == "" {
			continue
		}
		switch c := cols[i]; c {
		case "id":
			s.ID = v
		case "name":
			s.Name = v
		case "source.url":
			s.Source.URL = v
		case "source.format":
			s.Source.Format = strings.ToLower(v)
		case "source.query":
			s.Source.Query = v
		case "platforms":
			s.Platforms = splitList(v)
		case "currency":
			s.Currency = v
		case "country":
			s.Country = v
		case "image.width":
			image().Width = num(c, v)
		case "image.height":
			image().Height = num(c, v)
		case "image.quality":
			image().Quality = num(c, v)
		case "image.background":
			image().Background = strings.TrimPrefix(v, "#")
		case "image.additional":
			image().Additional = boolean(c, v)
		case "disabled":
			s.Disabled = boolean(c, v)
		default:
			lc := strings.ToLower(c)
			switch {
			case strings.HasPrefix(lc, "source.options."):
				s.Source.Options = put(s.Source.Options, c[len("source.options."):], v)
			case strings.HasPrefix(lc, "source.mapping."):
				s.Source.Mapping = put(s.Source.Mapping, c[len("source.mapping."):], v)
			case strings.HasPrefix(lc, "options."):
				s.Options = put(s.Options, c[len("options."):], v)
			}
		}
	}
	return e
}

func put(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}
