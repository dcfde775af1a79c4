package stages

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of an option's value.
type Kind int

// Option kinds.
const (
	// KindText is one line of text.
	KindText Kind = iota
	// KindBool is true or false (strconv.ParseBool).
	KindBool
	// KindInt is a whole number within [Min, Max].
	KindInt
	// KindFloat is a number within [Min, Max].
	KindFloat
	// KindDuration is a Go duration ("60s") within [Min, Max] seconds.
	KindDuration
	// KindURL is an absolute http(s) URL.
	KindURL
	// KindPorts is a comma-separated list of TCP ports ("80,443").
	KindPorts
	// KindLocation is a directory or URL prefix: file:///dir, s3://, a
	// store:prefix, or a path, which a file registry makes absolute.
	KindLocation
)

var kindNames = [...]string{"text", "bool", "int", "float", "duration", "url", "ports", "location"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Option declares one per-shop setting a stage or platform reads from a
// manifest row's Options. Each stage declares its options (see Optioner);
// the registry checks every row against the declarations before anything is
// submitted, and a child gets the parsed values in Job.Config.
type Option struct {
	// Name is "stage.key" ("feed.max_drop_share") or
	// "stage.platform.key" ("feed.naver.default_shipping").
	Name string
	Kind Kind
	// Default is the value used when the row sets none, as text ("" for
	// none: the stage decides, and Doc says how).
	Default string
	// Min and Max bound KindInt, KindFloat and KindDuration (seconds) values
	// when Bounded.
	Min, Max float64
	Bounded  bool
	// Doc is one line for `feedbatch options`.
	Doc string
}

// Optioner is implemented by stages that read per-shop options.
type Optioner interface {
	// Options declares every option the stage reads, each name starting with
	// the stage's name and a dot.
	Options() []Option
}

// Option constructors, for declaration lists.

// Bool declares a true/false option.
func Bool(name string, def bool, doc string) Option {
	return Option{Name: name, Kind: KindBool, Default: strconv.FormatBool(def), Doc: doc}
}

// Int declares a whole-number option in [lo, hi].
func Int(name string, def, lo, hi int64, doc string) Option {
	return Option{Name: name, Kind: KindInt, Default: strconv.FormatInt(def, 10), Min: float64(lo), Max: float64(hi), Bounded: true, Doc: doc}
}

// Float declares a number option in [lo, hi].
func Float(name string, def, lo, hi float64, doc string) Option {
	return Option{Name: name, Kind: KindFloat, Default: strconv.FormatFloat(def, 'g', -1, 64), Min: lo, Max: hi, Bounded: true, Doc: doc}
}

// Duration declares a Go duration option in [lo, hi].
func Duration(name string, def, lo, hi time.Duration, doc string) Option {
	return Option{Name: name, Kind: KindDuration, Default: def.String(), Min: lo.Seconds(), Max: hi.Seconds(), Bounded: true, Doc: doc}
}

// Text declares a one-line text option.
func Text(name, def, doc string) Option {
	return Option{Name: name, Kind: KindText, Default: def, Doc: doc}
}

// URL declares an absolute http(s) URL option (no default).
func URL(name, doc string) Option { return Option{Name: name, Kind: KindURL, Doc: doc} }

// Ports declares a port-list option.
func Ports(name, def, doc string) Option {
	return Option{Name: name, Kind: KindPorts, Default: def, Doc: doc}
}

// Location declares a directory or URL-prefix option (no default).
func Location(name, doc string) Option { return Option{Name: name, Kind: KindLocation, Doc: doc} }

// Want describes the values o accepts ("a number from 0 to 1").
func (o Option) Want() string {
	bounds := func(f func(float64) string) string {
		if !o.Bounded {
			return ""
		}
		return " from " + f(o.Min) + " to " + f(o.Max)
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	switch o.Kind {
	case KindBool:
		return "true or false"
	case KindInt:
		return "a whole number" + bounds(num)
	case KindFloat:
		return "a number" + bounds(num)
	case KindDuration:
		return "a duration like 60s" + bounds(func(v float64) string { return (time.Duration(v * float64(time.Second))).String() })
	case KindURL:
		return "an absolute http(s) URL"
	case KindPorts:
		return "ports like 80,443"
	case KindLocation:
		return "a directory, file:///dir, s3://bucket/prefix or store:prefix"
	}
	return "one line of text"
}

// maxOptionBytes bounds an option's value.
const maxOptionBytes = 4096

// Parse is the one parser of option values: it checks v against o's kind
// and range and returns the typed value (bool, int64, float64,
// time.Duration, string or []uint16). Surrounding space is ignored. The
// error says what was wanted: `feed.max_drop_share="2": want a number from
// 0 to 1`.
func (o Option) Parse(v string) (any, error) {
	v = strings.TrimSpace(v)
	val, ok := o.parse(v)
	if !ok {
		return nil, fmt.Errorf("%s=%q: want %s", o.Name, v, o.Want())
	}
	return val, nil
}

func (o Option) parse(v string) (any, bool) {
	if len(v) > maxOptionBytes || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, false
	}
	inRange := func(f float64) bool { return !o.Bounded || (f >= o.Min && f <= o.Max) }
	switch o.Kind {
	case KindBool:
		b, err := strconv.ParseBool(v)
		return b, err == nil
	case KindInt:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil && inRange(float64(n))
	case KindFloat:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && inRange(f)
	case KindDuration:
		d, err := time.ParseDuration(v)
		return d, err == nil && d > 0 && inRange(d.Seconds())
	case KindURL:
		u, err := url.Parse(v)
		return v, err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && !strings.ContainsAny(v, " \"<>\\^`{|}")
	case KindPorts:
		var ports []uint16
		for p := range strings.SplitSeq(v, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
			if err != nil || n == 0 {
				return nil, false
			}
			ports = append(ports, uint16(n))
		}
		return ports, true
	case KindLocation:
		return v, v != ""
	}
	return v, true
}

// Options is a set of declarations, looked up by name.
type Options map[string]Option

// NewOptions indexes decls by name. It panics on an empty or duplicate name
// or a default its own parser refuses (a declaration bug).
func NewOptions(decls ...[]Option) Options {
	m := Options{}
	for _, list := range decls {
		for _, o := range list {
			if o.Name == "" || !strings.Contains(o.Name, ".") {
				panic(fmt.Sprintf("stages: option %q: want stage.key", o.Name))
			}
			if _, dup := m[o.Name]; dup {
				panic("stages: option declared twice: " + o.Name)
			}
			if o.Default != "" {
				if _, err := o.Parse(o.Default); err != nil {
					panic("stages: bad default: " + err.Error())
				}
			}
			m[o.Name] = o
		}
	}
	return m
}

// hasStage reports whether a declared option shares k's stage (the part
// before the first dot).
func (opts Options) hasStage(k string) bool {
	st, _, _ := strings.Cut(k, ".")
	for name := range opts {
		if strings.HasPrefix(name, st+".") {
			return true
		}
	}
	return false
}

// Sorted lists the declarations by name.
func (opts Options) Sorted() []Option {
	out := make([]Option, 0, len(opts))
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		out = append(out, opts[k])
	}
	return out
}

// OptionError is one rejected option of a row.
type OptionError struct {
	Name  string
	Value string
	// Reason says what is wrong: `unknown option (did you mean ...?)` or
	// `want a number from 0 to 1`.
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("%s=%q: %s", e.Name, e.Value, e.Reason)
}

// Parse checks every entry of raw and returns the typed Config. Every
// problem is returned (errors.Join of *OptionError, sorted by name): an
// unknown name, with the closest declared one as a hint, or a bad value.
func (opts Options) Parse(raw map[string]string) (Config, error) {
	c := Config{decl: opts, vals: make(map[string]any, len(raw))}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		o, ok := opts[k]
		if !ok {
			reason := "unknown option"
			if near := opts.closest(k); near != "" {
				reason += " (did you mean " + near + "?)"
			}
			errs = append(errs, &OptionError{Name: k, Value: raw[k], Reason: reason})
			continue
		}
		if strings.TrimSpace(raw[k]) == "" {
			continue // an empty value is the default
		}
		v, err := o.Parse(raw[k])
		if err != nil {
			errs = append(errs, &OptionError{Name: k, Value: raw[k], Reason: "want " + o.Want()})
			continue
		}
		c.vals[k] = v
	}
	return c, joinErrors(errs)
}

func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return optionErrors(errs)
}

// optionErrors prints one problem per line.
type optionErrors []error

func (e optionErrors) Error() string {
	var b strings.Builder
	for i, err := range e {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e optionErrors) Unwrap() []error { return e }

// closest is the declared name nearest to k (edit distance at most a third
// of k's length, at least 1), or "".
func (opts Options) closest(k string) string {
	best, bestD := "", max(len(k)/3, 1)+1
	for _, name := range slices.Sorted(maps.Keys(opts)) {
		if d := editDistance(k, name, bestD); d < bestD {
			best, bestD = name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit when it is
// at least limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

// Config is a row's options, parsed and checked (Job.Config). Reading a
// name that was not declared panics: a stage must declare what it reads.
// The zero Config has no declarations; see JobConfig.
type Config struct {
	decl Options
	vals map[string]any
}

// IsZero reports whether c was never parsed.
func (c Config) IsZero() bool { return c.decl == nil }

// Set reports whether the row set name (a non-empty value).
func (c Config) Set(name string) bool {
	c.option(name)
	_, ok := c.vals[name]
	return ok
}

func (c Config) option(name string) Option {
	o, ok := c.decl[name]
	if !ok {
		panic("stages: option not declared: " + name)
	}
	return o
}

func (c Config) value(name string, kind Kind) any {
	o := c.option(name)
	if o.Kind != kind {
		panic(fmt.Sprintf("stages: option %s is %s, read as %s", name, o.Kind, kind))
	}
	if v, ok := c.vals[name]; ok {
		return v
	}
	if o.Default == "" {
		return nil
	}
	v, _ := o.Parse(o.Default) // checked by NewOptions
	return v
}

// Bool is a KindBool option's value (false without value or default).
func (c Config) Bool(name string) bool { b, _ := c.value(name, KindBool).(bool); return b }

// Int is a KindInt option's value.
func (c Config) Int(name string) int64 { n, _ := c.value(name, KindInt).(int64); return n }

// Float is a KindFloat option's value.
func (c Config) Float(name string) float64 { f, _ := c.value(name, KindFloat).(float64); return f }

// Duration is a KindDuration option's value.
func (c Config) Duration(name string) time.Duration {
	d, _ := c.value(name, KindDuration).(time.Duration)
	return d
}

// Ports is a KindPorts option's value.
func (c Config) Ports(name string) []uint16 {
	p, _ := c.value(name, KindPorts).([]uint16)
	return slices.Clone(p)
}

// String is the value of a text, URL or location option ("" when unset
// without default).
func (c Config) String(name string) string {
	o := c.option(name)
	switch o.Kind {
	case KindText, KindURL, KindLocation:
	default:
		panic(fmt.Sprintf("stages: option %s is %s, read as text", name, o.Kind))
	}
	s, _ := c.value(name, o.Kind).(string)
	return s
}

// JobConfig is job.Config when the child's entry point filled it, else
// job.Row.Options parsed against decls (callers that build a Job by hand:
// tests, embedders). Errors are permanent.
func JobConfig(job Job, decls Options) (Config, error) {
	if !job.Config.IsZero() {
		return job.Config, nil
	}
	// Options of other stages are theirs to check.
	mine := map[string]string{}
	for k, v := range job.Row.Options {
		if decls.hasStage(k) {
			mine[k] = v
		}
	}
	c, err := decls.Parse(mine)
	if err != nil {
		return c, Permanent(fmt.Errorf("options: %w", err))
	}
	return c, nil
}
