package mapping

import (
	"html"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/korean"
)

// Clean makes a source value safe to publish: invalid UTF-8 is repaired
// (read as EUC-KR when the whole value decodes as such, which is what a
// UTF-8 export with a few legacy rows usually has, else dropped), control and
// zero-width characters become spaces, runs of white space collapse to one
// space, and the ends are trimmed. fixed reports a repair of the encoding.
func Clean(s string) (out string, fixed bool) {
	if !utf8.ValidString(s) {
		fixed = true
		if dec, err := korean.EUCKR.NewDecoder().String(s); err == nil && !strings.ContainsRune(dec, utf8.RuneError) {
			s = dec
		} else {
			s = strings.ToValidUTF8(s, "")
		}
	}
	// Fast path: printable ASCII without double spaces.
	simple := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || (c == ' ' && (i == 0 || i == len(s)-1 || s[i-1] == ' ')) {
			simple = false
			break
		}
	}
	if simple {
		return s, fixed
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff' || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String(), fixed
}

// StripHTML removes tags, comments and the content of script and style
// elements, turns block ends into spaces and decodes entities. It is a
// text extractor for descriptions, not a sanitiser for HTML output.
func StripHTML(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s, "-->")
			if end < 0 {
				break
			}
			s = s[end+3:]
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			// A lone '<' is text ("price < 10").
			b.WriteString(s)
			break
		}
		tag := strings.ToLower(s[1:end])
		if len(tag) > 0 && !(tag[0] == '/' || tag[0] == '!' || unicode.IsLetter(rune(tag[0]))) {
			b.WriteByte('<')
			s = s[1:]
			continue
		}
		s = s[end+1:]
		tname := tagName(tag)
		if tname == "script" || tname == "style" {
			close := strings.Index(strings.ToLower(s), "</"+tname)
			if close < 0 {
				s = ""
				break
			}
			s = s[close:]
			if e := strings.IndexByte(s, '>'); e >= 0 {
				s = s[e+1:]
			} else {
				s = ""
			}
		}
		b.WriteByte(' ')
	}
	return html.UnescapeString(b.String())
}

func tagName(tag string) string {
	tag = strings.TrimPrefix(tag, "/")
	for i, r := range tag {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return tag[:i]
		}
	}
	return tag
}

// CleanURL checks that s is an absolute http or https URL and returns it in
// a form safe to publish (spaces escaped). Protocol-relative URLs
// ("//cdn.example/x.jpg") are taken as https.
func CleanURL(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	if strings.HasPrefix(s, "//") {
		s = "https:" + s
	}
	s = strings.ReplaceAll(s, " ", "%20")
	u, err := url.Parse(s)
	if err != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Host == "" || u.User != nil {
		return "", false
	}
	if h := u.Hostname(); h == "" || strings.ContainsAny(h, " <>\"") {
		return "", false
	}
	u.Scheme = scheme
	return u.String(), true
}
