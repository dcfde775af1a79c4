package mapping

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"

	"github.com/feedbatch/feedbatch/catalog"
)

// Price errors, checked with errors.Is.
var (
	ErrNoPrice      = errors.New("no price")
	ErrInvalidPrice = errors.New("invalid price")
)

// currency symbols and words that name a currency inside a price value.
var symbols = []struct {
	s, code string
}{
	{"₩", "KRW"}, {"원", "KRW"}, {"￦", "KRW"},
	{"US$", "USD"}, {"$", "USD"}, {"€", "EUR"}, {"£", "GBP"}, {"¥", "JPY"}, {"円", "JPY"},
	{"₫", "VND"}, {"₹", "INR"}, {"₽", "RUB"}, {"₺", "TRY"}, {"฿", "THB"}, {"₱", "PHP"},
}

// ParsePrice reads a price value into minor units of its currency. The
// currency comes from the value (an ISO 4217 code such as "59.00 USD" or
// "USD 59.00", or a symbol: "₩15,000", "15000원", "$59") or else from def,
// which must be an ISO 4217 code too. A space separates thousands groups
// only ("1 234,50"): "9900 12900" and "2 for 10000" are invalid, not one
// number.
// Thousands and decimal separators are told apart by position: "1,234.50",
// "1.234,50", "59,00" and "59.00" all read as expected; a single group of
// exactly three digits after one separator is a thousands group ("15,000"),
// except "." in a currency with minor units ("1.234 USD" would be ambiguous
// and is read as 1.23 rounded half up). More decimals than the currency has
// are rounded half up. Negative, empty and non-numeric values are errors.
func ParsePrice(s, def string) (minor int64, currency string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "", ErrNoPrice
	}
	orig := s
	// Currency symbol, then an ISO code (which wins: "$59 CAD" is CAD).
	var symCur, codeCur string
	for _, sym := range symbols {
		if strings.Contains(s, sym.s) {
			symCur = sym.code
			s = strings.ReplaceAll(s, sym.s, " ")
			break
		}
	}
	fields := strings.FieldsFunc(s, unicode.IsSpace)
	fields = splitCodes(fields)
	var num []string
	for _, f := range fields {
		if isCode(f) {
			code := strings.ToUpper(f)
			if codeCur != "" && codeCur != code {
				return 0, "", fmt.Errorf("%w %q: two currencies", ErrInvalidPrice, orig)
			}
			codeCur = code
			continue
		}
		num = append(num, f)
	}
	currency = cmp.Or(codeCur, symCur)
	if currency == "" {
		def = strings.TrimSpace(def)
		if def == "" {
			return 0, "", fmt.Errorf("%w %q: no currency in the value and none configured for the shop", ErrInvalidPrice, orig)
		}
		if currency = strings.ToUpper(def); !iso4217[currency] {
			return 0, "", fmt.Errorf("%w %q: currency %q is not an ISO 4217 code", ErrInvalidPrice, orig, def)
		}
	}
	if !spaceGrouped(num) {
		return 0, "", fmt.Errorf("%w %q: spaces only separate groups of three digits", ErrInvalidPrice, orig)
	}
	n := strings.Join(num, "") // "1 234,50" -> "1234,50"
	if strings.HasPrefix(n, "-") {
		return 0, "", fmt.Errorf("%w %q: negative", ErrInvalidPrice, orig)
	}
	n = strings.TrimPrefix(n, "+")
	n = strings.ReplaceAll(n, "'", "") // Swiss grouping 1'234.50
	n = strings.ReplaceAll(n, "_", "")
	if n == "" {
		return 0, "", fmt.Errorf("%w %q: no number", ErrInvalidPrice, orig)
	}
	for _, r := range n {
		if (r < '0' || r > '9') && r != '.' && r != ',' {
			return 0, "", fmt.Errorf("%w %q: not a number", ErrInvalidPrice, orig)
		}
	}
	units := catalog.MinorUnits(currency)
	intPart, frac, err := splitDecimal(n, units)
	if err != nil {
		return 0, "", fmt.Errorf("%w %q: %v", ErrInvalidPrice, orig, err)
	}
	minor, err = toMinor(intPart, frac, units)
	if err != nil {
		return 0, "", fmt.Errorf("%w %q: %v", ErrInvalidPrice, orig, err)
	}
	return minor, currency, nil
}

// isCode reports whether f is an ISO 4217 currency code, in upper or lower
// case ("USD", "usd"); other three-letter words ("for", "pcs") are not.
func isCode(f string) bool {
	return len(f) == 3 && iso4217[strings.ToUpper(f)]
}

// spaceGrouped reports whether the number's space-separated fields are
// thousands groups: "1 234 567,89" is, "9900 12900" (two prices), "1 2 3 4"
// and "2 for 10000" are not. The first field has one to three digits (after
// an optional sign), the others exactly three, and the last may go on with
// a decimal separator and its decimals. One field is always grouped.
func spaceGrouped(fields []string) bool {
	if len(fields) < 2 {
		return true
	}
	for i, f := range fields {
		if i == 0 {
			f = strings.TrimLeft(f, "+-")
			if len(f) < 1 || len(f) > 3 || !allDigits(f) {
				return false
			}
			continue
		}
		if i == len(fields)-1 && len(f) > 4 && (f[3] == '.' || f[3] == ',') && allDigits(f[4:]) {
			f = f[:3]
		}
		if len(f) != 3 || !allDigits(f) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// splitDecimal splits "1,234.50" into "1234" and "50".
func splitDecimal(n string, units int) (string, string, error) {
	lastDot, lastComma := strings.LastIndexByte(n, '.'), strings.LastIndexByte(n, ',')
	dots, commas := strings.Count(n, "."), strings.Count(n, ",")
	dec := -1 // index of the decimal separator
	switch {
	case dots > 0 && commas > 0:
		dec = max(lastDot, lastComma)
		if (dec == lastDot && dots > 1) || (dec == lastComma && commas > 1) {
			return "", "", errors.New("separators out of order")
		}
	case dots == 1:
		after := len(n) - lastDot - 1
		if !(after == 3 && units == 0) {
			dec = lastDot
		}
	case commas == 1:
		after := len(n) - lastComma - 1
		if after != 3 {
			dec = lastComma
		}
	}
	intPart, frac := n, ""
	if dec >= 0 {
		intPart, frac = n[:dec], n[dec+1:]
	}
	// Every remaining separator must sit between groups of three digits.
	groups := strings.FieldsFunc(intPart, func(r rune) bool { return r == '.' || r == ',' })
	if len(groups) > 1 {
		for i, g := range groups {
			if (i == 0 && (len(g) == 0 || len(g) > 3)) || (i > 0 && len(g) != 3) {
				return "", "", errors.New("bad digit grouping")
			}
		}
	}
	if strings.HasPrefix(intPart, ".") || strings.HasPrefix(intPart, ",") || strings.HasSuffix(intPart, ".") || strings.HasSuffix(intPart, ",") {
		if intPart != "" {
			return "", "", errors.New("bad digit grouping")
		}
	}
	intPart = strings.Join(groups, "")
	if intPart == "" && frac == "" {
		return "", "", errors.New("no digits")
	}
	if strings.ContainsAny(frac, ".,") {
		return "", "", errors.New("separators out of order")
	}
	return intPart, frac, nil
}

func toMinor(intPart, frac string, units int) (int64, error) {
	var v int64
	for _, c := range intPart {
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, errors.New("too large")
		}
		v = v*10 + d
	}
	roundUp := false
	for i := range units {
		d := int64(0)
		if i < len(frac) {
			d = int64(frac[i] - '0')
		}
		if v > (math.MaxInt64-d)/10 {
			return 0, errors.New("too large")
		}
		v = v*10 + d
	}
	if len(frac) > units && frac[units] >= '5' {
		roundUp = true
	}
	if roundUp {
		if v == math.MaxInt64 {
			return 0, errors.New("too large")
		}
		v++
	}
	// Prices past 10^15 minor units are not real prices.
	if v > 1e15 {
		return 0, errors.New("too large")
	}
	return v, nil
}

// splitCodes separates a currency code glued to a number: "59.00USD" and
// "USD59" become two fields.
func splitCodes(fields []string) []string {
	var out []string
	for _, f := range fields {
		if len(f) > 3 {
			if isCode(f[len(f)-3:]) && !isLetter(f[len(f)-4]) {
				out = append(out, f[:len(f)-3], f[len(f)-3:])
				continue
			}
			if isCode(f[:3]) && !isLetter(f[3]) {
				out = append(out, f[:3], f[3:])
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

func isLetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }
