package feed

import (
	"strings"
)

// normURL makes s an absolute http(s) URL in RFC 3986 form, ASCII only:
// surrounding space is trimmed, the scheme is lower-cased, and every byte
// that RFC 3986 does not allow (space, non-ASCII, '"', '<', '>', '\\', '^',
// '`', '{', '|', '}', '[', ']', controls, a '%' not followed by two hex
// digits) is percent-encoded. Existing %XX escapes are kept, so encoding is
// idempotent. It reports false for anything that is not an absolute
// http(s) URL with a host.
func normURL(s string) (string, bool) {
	s = strings.TrimSpace(s)
	i := strings.Index(s, "://")
	if i <= 0 {
		return "", false
	}
	scheme := strings.ToLower(s[:i])
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	rest := s[i+3:]
	if rest == "" || rest[0] == '/' || rest[0] == '?' || rest[0] == '#' {
		return "", false
	}
	var out string
	if needsEncoding(rest) {
		var b strings.Builder
		b.Grow(len(scheme) + 3 + len(rest) + 16)
		b.WriteString(scheme)
		b.WriteString("://")
		encodeURLBytes(&b, rest)
		out = b.String()
	} else if scheme == s[:i] {
		out = s
	} else {
		out = scheme + "://" + rest
	}
	if !validAuthority(out[len(scheme)+3:]) {
		return "", false
	}
	return out, true
}

// validAuthority checks the authority at the start of rest (up to the first
// '/', '?' or '#'): optional userinfo, then a non-empty host of letters,
// digits, '-', '.' or '_', then an optional numeric port. IP literals in
// brackets and non-ASCII (IDN) hosts are refused: a feed URL's host must be
// in its ASCII (punycode) form.
// It is a fast stand-in for net/url.Parse, which the fuzz test checks it
// against.
func validAuthority(rest string) bool {
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c == '/' || c == '?' || c == '#' {
			rest = rest[:i]
			break
		}
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	host, port, hasPort := strings.Cut(rest, ":")
	if hasPort && !isDigits(port) && port != "" {
		return false
	}
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}

const hexUpper = "0123456789ABCDEF"

func urlAllowed(c byte) bool { return urlOK[c] }

// urlOK marks the bytes RFC 3986 allows unencoded: unreserved, gen-delims
// other than '[' and ']', sub-delims.
var urlOK = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
			strings.IndexByte("-._~:/?#@!$&'()*+,;=", b) >= 0
	}
	return t
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

func needsEncoding(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return true
			}
			continue
		}
		if !urlAllowed(c) {
			return true
		}
	}
	return false
}

func encodeURLBytes(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		if c != '%' && urlAllowed(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&15])
	}
}

// encodeListSep percent-encodes sep inside a URL that goes into a list
// separated by sep (Google and Meta: ',' as %2C; Naver: '|' is already
// encoded by normURL).
func encodeListSep(u string, sep byte) string {
	if strings.IndexByte(u, sep) < 0 {
		return u
	}
	enc := "%" + string(hexUpper[sep>>4]) + string(hexUpper[sep&15])
	return strings.ReplaceAll(u, string(sep), enc)
}
