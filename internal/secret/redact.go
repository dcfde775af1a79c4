// Package secret keeps credentials out of everything feedbatch prints or
// records. Redact and RedactText hide the credentials of URLs (userinfo and
// the values of query parameters with secret names); Error and Handler apply
// them to errors and log records. Resolve replaces credential references
// (${env:NAME}, ${secretsmanager:NAME}, ${ssm:/path}) with their values at
// run time, so registries and manifests hold names, never secrets.
package secret

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
)

// Mask replaces every redacted value.
const Mask = "REDACTED"

// names are the query parameter names (lower case, '-' read as '_') whose
// values are secrets.
var names = map[string]bool{
	"api_key": true, "apikey": true, "key": true, "token": true, "access_token": true,
	"auth": true, "auth_token": true, "refresh_token": true, "id_token": true,
	"secret": true, "client_secret": true, "password": true, "passwd": true, "pwd": true,
	"sig": true, "signature": true, "x_amz_signature": true, "x_amz_credential": true,
	"x_amz_security_token": true, "sessiontoken": true, "session_token": true,
}

// IsSecretName reports whether a query parameter (or key=value field)
// called name carries a secret.
func IsSecretName(name string) bool {
	return names[strings.ReplaceAll(strings.ToLower(name), "-", "_")]
}

// Redact returns raw, a URL or DSN, with its credentials replaced by Mask:
// the userinfo's password (the user name stays) and the values of query and fragment parameters with secret
// names (IsSecretName). A value that is a credential reference ("${...}")
// is kept. Redact works on text, not a parsed URL, so malformed URLs are
// redacted too.
func Redact(raw string) string {
	rest := raw
	var b strings.Builder
	if i := strings.Index(rest, "://"); i >= 0 {
		b.WriteString(rest[:i+3])
		rest = rest[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		auth := rest[:end]
		if at := strings.LastIndex(auth, "@"); at >= 0 {
			b.WriteString(redactUserinfo(auth[:at]))
			b.WriteString(auth[at:])
		} else {
			b.WriteString(auth)
		}
		rest = rest[end:]
	}
	q := strings.IndexAny(rest, "?#")
	if q < 0 {
		b.WriteString(rest)
		return b.String()
	}
	b.WriteString(rest[:q])
	b.WriteString(redactParams(rest[q:]))
	return b.String()
}

func redactUserinfo(ui string) string {
	if user, pass, ok := strings.Cut(ui, ":"); ok {
		if isRef(pass) {
			return ui
		}
		return user + ":" + Mask
	}
	return ui
}

// redactParams redacts the secret values of s, a query and/or fragment
// starting with '?' or '#'.
func redactParams(s string) string {
	var b strings.Builder
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && !strings.ContainsRune("?#&;", rune(s[i])) {
			continue
		}
		if i > start {
			b.WriteString(redactPair(s[start:i]))
		}
		if i < len(s) {
			b.WriteByte(s[i])
		}
		start = i + 1
	}
	return b.String()
}

func redactPair(kv string) string {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || v == "" || isRef(v) || !IsSecretName(unescape(k)) {
		return kv
	}
	return k + "=" + Mask
}

// unescape undoes the percent-encoding of a query name well enough to
// match names ("api%5Fkey").
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

var (
	urlPattern   = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>\x60]+`)
	fieldPattern = regexp.MustCompile(`(?i)\b([a-z][a-z0-9_-]*)=([^\s&;"'<>\x60]+)`)
)

// RedactText redacts every URL in s (see Redact) and the values of
// name=value fields with secret names outside URLs (a keyword DSN's
// password=..., a query string quoted without its URL).
func RedactText(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(s, "=") {
		return s
	}
	s = urlPattern.ReplaceAllStringFunc(s, Redact)
	return fieldPattern.ReplaceAllStringFunc(s, func(m string) string {
		k, v, _ := strings.Cut(m, "=")
		if v == Mask || isRef(v) || !IsSecretName(k) {
			return m
		}
		return k + "=" + Mask
	})
}

// Error returns err with its message redacted (RedactText); errors.Is and
// errors.As still see err. nil stays nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	return &redacted{err: err}
}

type redacted struct{ err error }

func (r *redacted) Error() string { return RedactText(r.err.Error()) }
func (r *redacted) Unwrap() error { return r.err }

// Handler wraps h so that every record's message and string, error and
// other attribute values pass through RedactText first.
func Handler(h slog.Handler) slog.Handler { return &handler{h: h} }

type handler struct{ h slog.Handler }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, RedactText(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return &handler{h: h.h.WithAttrs(red)}
}

func (h *handler) WithGroup(name string) slog.Handler { return &handler{h: h.h.WithGroup(name)} }

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, RedactText(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, RedactText(err.Error()))
		}
		if s, ok := v.Any().(interface{ String() string }); ok {
			return slog.String(a.Key, RedactText(s.String()))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
