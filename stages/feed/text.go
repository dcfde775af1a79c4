package feed

import (
	"bufio"
	"strings"
	"unicode/utf8"
)

// cleanText returns s as valid UTF-8 that XML 1.0 accepts: invalid UTF-8
// bytes are dropped, and so are the characters XML 1.0 forbids (C0 controls
// other than tab, newline and carriage return; U+FFFE and U+FFFF) and the
// ones it discourages that only ever come from mis-decoded text (DEL and the
// C1 controls U+007F-U+009F). Surrogates cannot appear: Go decodes an encoded
// surrogate as invalid UTF-8. The result is safe for every platform; ASCII
// text without controls is returned without allocating.
func cleanText(s string) string {
	// Fast path, two passes: 8 bytes at a time, a word test for the bytes
	// that may need removing (controls, DEL, the lead bytes C2 of C1
	// controls and EF of U+FFFE/U+FFFF; a tab or line break sends the word
	// to a byte check), then the standard library's UTF-8 check. Anything
	// suspect goes to cleanSlow, which decides.
	i := 0
	var or uint64 // high bits of all bytes seen: none set means ASCII
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		or |= w
		if !suspectWord(w) {
			continue
		}
		for k := i; k < i+8; k++ {
			if suspect[s[k]] {
				return cleanSlow(s, 0)
			}
		}
	}
	for ; i < len(s); i++ {
		if suspect[s[i]] {
			return cleanSlow(s, 0)
		}
		or |= uint64(s[i])
	}
	if or&0x8080808080808080 != 0 && !utf8.ValidString(s) {
		return cleanSlow(s, 0)
	}
	return s
}

// suspectWord reports whether one of w's 8 bytes may be one cleanText must
// look at closely (below 0x20, 0x7f, 0xc2 or 0xef); false positives are
// possible, false negatives are not.
func suspectWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(x uint64) uint64 { return (x - ones) &^ x & highs }
	below20 := (w - ones*0x20) &^ w & highs
	return below20|zero(w^(ones*0x7f))|zero(w^(ones*0xc2))|zero(w^(ones*0xef)) != 0
}

// suspect marks the bytes cleanText must look at closely.
var suspect = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = c != '\t' && c != '\n' && c != '\r'
	}
	t[0x7f], t[0xc2], t[0xef] = true, true, true
	return t
}()

// needsClean reports whether s has anything cleanSlow would remove.
func needsClean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if badASCII(c) {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if badRune(r, size) {
			return true
		}
		i += size
	}
	return false
}

func badASCII(c byte) bool {
	return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f
}

func badRune(r rune, size int) bool {
	return (r == utf8.RuneError && size == 1) || (r >= 0x80 && r <= 0x9f) || r == 0xfffe || r == 0xffff
}

func cleanSlow(s string, from int) string {
	if !needsClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:from])
	for i := from; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !badASCII(c) {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !badRune(r, size) {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// singleLine replaces tabs, carriage returns and newlines by spaces, for
// one-line fields (titles) and for TSV, which has no quoting.
func singleLine(s string) string {
	i := 0
	for i < len(s) && !lineBreak[s[i]] {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c == '\t' || c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}

// truncateRunes cuts s to at most n characters (runes, never bytes, so a
// Korean character is never split) and trims trailing spaces left by the cut.
// It reports whether s was cut.
func truncateRunes(s string, n int) (string, bool) {
	if len(s) <= n { // bytes >= runes
		return s, false
	}
	count := 0
	for i := range s {
		if count == n {
			return strings.TrimRight(s[:i], " \t\r\n"), true
		}
		count++
	}
	return s, false
}

// runeLen is utf8.RuneCountInString with an ASCII fast path.
func runeLen(s string) int { return utf8.RuneCountInString(s) }

// stripHTML removes tags (a '<' followed by a letter, '/' or '!' up to the
// next '>') and decodes the common character entities, for plain-text
// fields (Meta: "no HTML and no character entities"). When there was markup,
// runs of ASCII white space (HTML's insignificant space, tags included)
// become one space. Text without '<' or '&' is returned as is.
func stripHTML(s string) string {
	if strings.IndexByte(s, '<') < 0 && strings.IndexByte(s, '&') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false // a space is pending
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case htmlSpace[c]:
			space = true
			i++
			continue
		case c == '<' && i+1 < len(s) && isTagStart(s[i+1]):
			if j := strings.IndexByte(s[i:], '>'); j >= 0 {
				space = true // block tags must not glue words together
				i += j + 1
				continue
			}
		case c == '&':
			if j := strings.IndexByte(s[i:min(len(s), i+10)], ';'); j > 1 {
				if r, ok := entities[s[i+1:i+j]]; ok {
					i += j + 1
					if r == " " {
						space = true
						continue
					}
					if space && b.Len() > 0 {
						b.WriteByte(' ')
					}
					space = false
					b.WriteString(r)
					continue
				}
			}
		}
		// Copy a run of ordinary bytes at once.
		// A single space between ordinary bytes stays in the run.
		j := i + 1
		for j < len(s) {
			if c := s[j]; htmlSpecial[c] {
				if c != ' ' || j+1 == len(s) || htmlSpecial[s[j+1]] {
					break
				}
			}
			j++
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(s[i:j])
		i = j
	}
	return b.String()
}

var htmlSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true, '\f': true}

var htmlSpecial = [256]bool{'<': true, '&': true, ' ': true, '\t': true, '\n': true, '\r': true, '\f': true}

func isTagStart(c byte) bool {
	return c == '/' || c == '!' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

var entities = map[string]string{
	"amp": "&", "lt": "<", "gt": ">", "quot": `"`, "apos": "'", "nbsp": " ",
	"#39": "'", "#34": `"`,
}

// writeXMLText writes s as XML character data (appendXMLText).
func writeXMLText(w *bufio.Writer, s string) {
	var buf [256]byte
	w.Write(appendXMLText(buf[:0], s))
}

// appendXMLText appends s as XML character data to b. s must already be
// cleaned by cleanText. Only '&', '<', '>' and '\r' need escaping in element
// content ('\r' so a parser's line-end normalisation keeps it). Runs of
// ordinary bytes are appended at once.
func appendXMLText(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); {
		// Skip 8 bytes at a time while none of them needs escaping.
		if i+8 <= len(s) {
			w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
				uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
			if !hasXMLSpecial(w) {
				i += 8
				continue
			}
		}
		c := s[i]
		if !xmlSpecial[c] {
			i++
			continue
		}
		b = append(b, s[last:i]...)
		switch c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		default: // '\r'
			b = append(b, "&#xD;"...)
		}
		i++
		last = i
	}
	return append(b, s[last:]...)
}

// hasXMLSpecial reports whether one of w's 8 bytes may be '&', '<', '>' or
// '\r' (false positives are possible, false negatives are not).
func hasXMLSpecial(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(x uint64) uint64 { return (x - ones) &^ x & highs }
	return zero(w^(ones*'&'))|zero(w^(ones*'<'))|zero(w^(ones*'>'))|zero(w^(ones*'\r')) != 0
}

var lineBreak = [256]bool{'\t': true, '\r': true, '\n': true}

var xmlSpecial = [256]bool{'&': true, '<': true, '>': true, '\r': true}

// isUpperCode reports whether s is n ASCII upper-case letters (ISO 4217
// currency and ISO 3166-1 alpha-2 country codes).
func isUpperCode(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// isDigits reports whether s is non-empty and only ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
