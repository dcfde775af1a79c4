package manifest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// FieldText is the value of field (a name of Change.Fields: "platforms",
// "source.url", ...) in r as one line of plain text: lists comma-joined,
// maps as k=v pairs in key order, "" for an empty value. It is what a
// person reads in "platforms: google,naver -> google".
func FieldText(r Row, field string) string {
	switch field {
	case "name":
		return quoteEmpty(r.Name)
	case "source.url":
		return quoteEmpty(r.Source.URL)
	case "source.format":
		return quoteEmpty(r.Source.Format)
	case "source.query":
		return quoteEmpty(strings.Join(strings.Fields(r.Source.Query), " "))
	case "source.options":
		return pairsText(r.Source.Options)
	case "source.mapping":
		return pairsText(r.Source.Mapping)
	case "platforms":
		return quoteEmpty(strings.Join(r.Platforms, ","))
	case "currency":
		return quoteEmpty(r.Currency)
	case "country":
		return quoteEmpty(r.Country)
	case "image":
		s := fmt.Sprintf("%dx%d quality %d background %s", r.Image.Width, r.Image.Height, r.Image.Quality, r.Image.Background)
		if r.Image.Additional {
			s += " with additional images"
		}
		return s
	case "output_prefix":
		return quoteEmpty(r.OutputPrefix)
	case "options":
		return pairsText(r.Options)
	}
	return ""
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// pairsText is m as "k=v, k=v" in key order.
func pairsText(m map[string]string) string {
	if len(m) == 0 {
		return `""`
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}
