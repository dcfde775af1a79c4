package feed

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/platform"
)

// Platform renders one ad platform's feed format. Adding a platform
// (TikTok, Criteo, Kakao) is one file that calls Register in its init with
// the platform's Spec (image size, currencies, options: what the registry,
// the image stage and the report need) and its factory.
//
// A renderer calls WriteHeader once, then Validate and, for valid items,
// WriteItem once per product in catalog order, then WriteFooter once. The
// same inputs must always give the same bytes (feeds are deterministic).
// A Platform renders one feed at a time: its methods are called from one
// goroutine, so it may keep reusable buffers (the built-in ones build each
// item with appends into one reused []byte and write it at once).
type Platform interface {
	// Name is the platform's name in manifest rows and keys ("google").
	Name() string
	// Ext is the feed file's extension without the dot ("xml"); the
	// published key is shops/<id>/feeds/<name>.<ext>.gz.
	Ext() string
	// ContentType is the uncompressed feed's media type.
	ContentType() string
	// Validate checks p against the platform's rules and normalises it in
	// place. p arrives prepared: every text field is valid UTF-8 without
	// characters XML 1.0 forbids, trimmed, and the description is plain
	// text (HTML removed). Validate does the rest: truncation to length
	// limits, URL encoding, what the format needs (one-line fields for TSV).
	// p is the platform's own copy: Validate may replace its
	// fields (it must not write into the backing array of a slice field).
	// An invalid item gives ok false and a short reason ("missing_price")
	// that is counted as "<platform>/<reason>".
	Validate(p *catalog.Product) (reason string, ok bool)
	// WriteHeader writes what precedes the first item.
	WriteHeader(w *bufio.Writer, ch Channel) error
	// WriteItem writes one validated item.
	WriteItem(w *bufio.Writer, p *catalog.Product) error
	// WriteFooter writes what follows the last item.
	WriteFooter(w *bufio.Writer) error
	// CountItems counts the items of a feed the platform wrote (r is the
	// feed before gzip); an error (and 0) says r is not such a feed. The drop
	// guard counts the live feed when its meta.json does not describe it.
	CountItems(r io.Reader) (int64, error)
}

// Channel is what a feed says about the shop as a whole.
type Channel struct {
	ShopID string
	// Title is the shop's display name.
	Title string
	// Link is the shop's home page: the scheme and host of the first valid
	// product link (or the feed.site_url option).
	Link string
}

// Config is what a platform factory gets for one shop.
type Config struct {
	// Country is the shop's ISO 3166-1 alpha-2 country, for shipping.
	Country string
	// Options are the manifest row's parsed options; a platform reads its
	// own ("feed.naver.default_shipping"), declared in its Spec.
	Options stages.Config
}

// Factory makes a platform for one shop.
type Factory func(Config) (Platform, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a platform known to the whole pipeline (platform.Register)
// and its feed writer available by spec.Name. It panics if the name is bad
// or already registered, or f is nil (database/sql's rule).
func Register(spec platform.Spec, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if f == nil {
		panic("feed: Register with a nil factory")
	}
	if _, dup := registry[spec.Name]; dup {
		panic("feed: Register called twice for platform " + spec.Name)
	}
	platform.Register(spec)
	registry[spec.Name] = f
}

// Platforms lists the registered platform names, sorted.
func Platforms() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return slices.Sorted(maps.Keys(registry))
}

// NewPlatform makes the platform called name for one shop.
func NewPlatform(name string, cfg Config) (Platform, error) {
	registryMu.RLock()
	f, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown platform %q (known: %v)", name, Platforms())
	}
	return f(cfg)
}

// FeedKey is the stable key a platform fetches: shops/<id>/feeds/<platform>.<ext>.gz.
func FeedKey(shopID string, p Platform) string {
	return fmt.Sprintf("shops/%s/feeds/%s.%s.gz", shopID, p.Name(), p.Ext())
}

// MetaKey is where the last published feed's facts are kept, for the guard.
func MetaKey(shopID, platform string) string {
	return fmt.Sprintf("shops/%s/feeds/%s.meta.json", shopID, platform)
}

// appendPriceText appends "<amount> <ISO 4217>" to b, the amount from
// integer minor units with the currency's decimals ("59.00 USD", "15000 KRW").
func appendPriceText(b []byte, minor int64, currency string) []byte {
	b = appendPrice(b, minor, currency)
	b = append(b, ' ')
	return append(b, currency...)
}

// formatPrice is catalog.FormatPrice.
func formatPrice(minor int64, currency string) string {
	var buf [24]byte
	return string(appendPrice(buf[:0], minor, currency))
}

// appendPrice appends catalog.FormatPrice(minor, currency) without fmt (a
// fuzz test checks they agree): it runs for every price of every item.
func appendPrice(b []byte, minor int64, currency string) []byte {
	d := catalog.MinorUnits(currency)
	if d == 0 {
		return strconv.AppendInt(b, minor, 10)
	}
	if minor < 0 {
		return append(b, catalog.FormatPrice(minor, currency)...)
	}
	var buf [24]byte
	digits := strconv.AppendInt(buf[:0], minor, 10)
	for len(digits) <= d {
		digits = append([]byte{'0'}, digits...)
	}
	b = append(b, digits[:len(digits)-d]...)
	b = append(b, '.')
	return append(b, digits[len(digits)-d:]...)
}

// checkPrice validates the price fields every platform shares.
func checkPrice(p *catalog.Product) (string, bool) {
	if !isUpperCode(p.Currency, 3) {
		return "bad_currency", false
	}
	if p.Price <= 0 {
		return "bad_price", false
	}
	if p.SalePrice < 0 || p.SalePrice >= p.Price {
		// A sale price that is not below the price is ignored, not fatal.
		p.SalePrice = 0
	}
	return "", true
}

// checkURLs normalises link, mobile link and images: the link and the main
// image are required and at most maxLen characters; a bad mobile link or
// additional image is left out. Additional images beyond maxExtra are cut.
// A non-zero sep is percent-encoded in image links (Google: ',' as %2C).
// The additional-image slice is replaced, never written into, when anything
// changes.
func checkURLs(p *catalog.Product, maxLen, maxExtra int, sep byte) (string, bool) {
	if p.Link == "" {
		return "missing_link", false
	}
	link, ok := normURL(p.Link)
	if !ok {
		return "bad_link", false
	}
	if len(link) > maxLen {
		return "link_too_long", false
	}
	p.Link = link
	if p.MobileLink != "" {
		if m, ok := normURL(p.MobileLink); ok && len(m) <= maxLen {
			p.MobileLink = m
		} else {
			p.MobileLink = ""
		}
	}
	if p.ImageLink == "" {
		return "missing_image_link", false
	}
	img, ok := normImage(p.ImageLink, sep)
	if !ok {
		return "bad_image_link", false
	}
	if len(img) > maxLen {
		return "image_link_too_long", false
	}
	p.ImageLink = img
	extra := p.AdditionalImageLinks
	var out []string // nil while extra[:i] is unchanged
	for i, a := range extra {
		u, ok := normImage(a, sep)
		keep := ok && len(u) <= maxLen && u != img
		if out == nil && keep && u == a && i < maxExtra {
			continue
		}
		if out == nil {
			out = make([]string, i, min(len(extra), maxExtra))
			copy(out, extra[:i])
		}
		if keep && len(out) < maxExtra {
			out = append(out, u)
		}
	}
	if out != nil {
		p.AdditionalImageLinks = out
	}
	return "", true
}

func normImage(s string, sep byte) (string, bool) {
	u, ok := normURL(s)
	if ok && sep != 0 {
		u = encodeListSep(u, sep)
	}
	return u, ok
}

// validGTIN reports whether s is a GTIN-8/12/13/14 (digits only; the check
// digit is verified).
func validGTIN(s string) bool {
	switch len(s) {
	case 8, 12, 13, 14:
	default:
		return false
	}
	if !isDigits(s) {
		return false
	}
	sum := 0
	n := len(s)
	for i := 0; i < n-1; i++ {
		d := int(s[n-2-i] - '0')
		if i%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return (10-sum%10)%10 == int(s[n-1]-'0')
}
