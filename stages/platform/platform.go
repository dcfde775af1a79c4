// Package platform is the list of ad platforms a shop may publish to and
// what the pipeline must know about each: the image size it accepts, the
// currencies its feed takes, its own options and the figures the feed stage
// records for it. The registry validates shops against it, the image stage
// sizes images from it and the report reads the feed's figures through it.
//
// A platform is added by one file in stages/feed that calls feed.Register
// with its Spec and its feed writer; nothing else names platforms.
package platform

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/feedbatch/feedbatch/stages"
)

// Spec is what the pipeline knows about one platform.
type Spec struct {
	// Name is the platform's name in registries, manifest rows and keys
	// ("google"): lower-case letters and digits.
	Name string
	// MinImageSide is the smallest square side, in pixels, the platform
	// accepts; an image spec below it is raised (0: no minimum).
	MinImageSide int
	// Currencies, when set, are the only currencies (ISO 4217) the
	// platform's feed takes: a shop in another currency would publish an
	// empty feed, so the registry refuses it.
	Currencies []string
	// Options are the platform's own settings, named
	// "feed.<platform>.<key>".
	Options []stages.Option
}

var (
	mu    sync.RWMutex
	specs = map[string]Spec{}
)

// Register makes a platform known. It panics on a bad or duplicate name or
// an option not named feed.<name>.* (database/sql's rule for drivers).
// Callers are the platform files of stages/feed, through feed.Register.
func Register(s Spec) {
	mu.Lock()
	defer mu.Unlock()
	if s.Name == "" || strings.Trim(s.Name, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		panic(fmt.Sprintf("platform: Register with bad name %q", s.Name))
	}
	if _, dup := specs[s.Name]; dup {
		panic("platform: Register called twice for " + s.Name)
	}
	for _, o := range s.Options {
		if !strings.HasPrefix(o.Name, "feed."+s.Name+".") {
			panic(fmt.Sprintf("platform %s: option %q: want feed.%s.<key>", s.Name, o.Name, s.Name))
		}
	}
	s.Currencies = slices.Clone(s.Currencies)
	s.Options = slices.Clone(s.Options)
	specs[s.Name] = s
}

// Lookup returns the platform called name.
func Lookup(name string) (Spec, bool) {
	mu.RLock()
	defer mu.RUnlock()
	s, ok := specs[name]
	return s, ok
}

// Names lists the registered platforms, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(specs))
}

// Options lists every platform's options.
func Options() []stages.Option {
	var out []stages.Option
	for _, n := range Names() {
		s, _ := Lookup(n)
		out = append(out, s.Options...)
	}
	return out
}

// Accepts reports whether the platform's feed takes currency ("" is
// unknown and accepted: the catalog may carry its own).
func (s Spec) Accepts(currency string) bool {
	return currency == "" || len(s.Currencies) == 0 || slices.Contains(s.Currencies, currency)
}

// The per-platform figures in a result record (the feed stage's): Counts
// "<platform>_items" and "<platform>_raw_bytes", Dropped
// "<platform>/<reason>". These forms are reserved for them: other figures
// do not end in _items or _raw_bytes, other drop reasons have no '/'. Only
// this file spells the format out.

// ItemsKey is the Counts key of the items a platform's feed holds.
func ItemsKey(name string) string { return name + "_items" }

// RawBytesKey is the Counts key of a platform's feed size before gzip.
func RawBytesKey(name string) string { return name + "_raw_bytes" }

// DroppedKey is the Dropped key of the items a platform left out for reason.
func DroppedKey(name, reason string) string { return name + "/" + reason }

// Figures are one platform's figures from one result record.
type Figures struct {
	Platform string
	// Rendered is true when the record has the platform's item count (the
	// feed was rendered; whether it was published is the record's status).
	Rendered bool
	Items    int64
	RawBytes int64
	// Dropped counts left-out items by reason.
	Dropped map[string]int64
}

// FromResult reads the per-platform figures of a result record, sorted by
// platform; none for a stage that records none. It reads the format alone,
// so it needs no platform registered.
func FromResult(res stages.Result) []Figures {
	m := map[string]*Figures{}
	get := func(p string) *Figures {
		if m[p] == nil {
			m[p] = &Figures{Platform: p, Dropped: map[string]int64{}}
		}
		return m[p]
	}
	for k, n := range res.Counts {
		if p, ok := strings.CutSuffix(k, "_items"); ok {
			f := get(p)
			f.Rendered, f.Items = true, n
		} else if p, ok := strings.CutSuffix(k, "_raw_bytes"); ok {
			get(p).RawBytes = n
		}
	}
	for k, n := range res.Dropped {
		if p, r, ok := strings.Cut(k, "/"); ok {
			get(p).Dropped[r] += n
		}
	}
	out := make([]Figures, 0, len(m))
	for _, p := range slices.Sorted(maps.Keys(m)) {
		out = append(out, *m[p])
	}
	return out
}
