package feed

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/platform"
)

// Naver Shopping EP 3.0, full EP (전체 EP; reference/feeds.md section 3):
// UTF-8 TSV, a header line of column names, no quoting, so tabs and line
// breaks in values become spaces. The official guide is behind a login;
// the columns and limits below come from the reference sheet and are
// marked there as unverified. Rules and what happens past them:
//
//	currency               KRW only (prices are bare integer won): drop otherwise
//	id                50   drop (identity)
//	title            100   truncate
//	price_pc               the sale price if there is one, else the price; > 0
//	price_mobile           = price_pc
//	normal_price           the list price when on sale, else empty
//	link, mobile_link,
//	image_link       255   drop when link or image_link is longer (mobile link left out)
//	add_image_link         up to 10, '|'-separated, each <= 255
//	category_name1..4      the shop's category path split on '>'; name1 required
//	condition              신상품 / 중고 / 리퍼
//	shipping               integer won (0 = free), required; an unknown cost
//	                       takes the feed.naver.default_shipping option, else drop
//	availability           out_of_stock items are left out: a full EP lists
//	                       the sellable products only
const (
	naverIDMax    = 50
	naverTitleMax = 100
	naverURLMax   = 255
	naverExtraMax = 10
)

var naverColumns = []string{
	"id", "title", "price_pc", "price_mobile", "normal_price", "link", "mobile_link",
	"image_link", "add_image_link", "category_name1", "category_name2", "category_name3",
	"category_name4", "condition", "brand", "model_number", "barcode",
	"group_id", "shipping",
}

func init() {
	Register(platform.Spec{
		Name:       "naver",
		Currencies: []string{"KRW"},
		Options: []stages.Option{
			{Name: optNaverDefaultShipping, Kind: stages.KindInt, Min: 0, Max: 1_000_000, Bounded: true,
				Doc: "shipping cost in won for items whose cost the catalog does not give (unset: such items are dropped)"},
		},
	}, newNaver)
}

// optNaverDefaultShipping is the shipping cost of items without one.
const optNaverDefaultShipping = "feed.naver.default_shipping"

func newNaver(cfg Config) (Platform, error) {
	n := &naver{defaultShipping: -1}
	if !cfg.Options.IsZero() && cfg.Options.Set(optNaverDefaultShipping) {
		n.defaultShipping = cfg.Options.Int(optNaverDefaultShipping)
	}
	return n, nil
}

type naver struct {
	defaultShipping int64
	buf             []byte // WriteItem's reused row buffer
}

// usesDescription implements descriptionUser: the EP has no description
// column, so a naver-only render does not clean descriptions.
func (*naver) usesDescription() bool { return false }

func (*naver) Name() string        { return "naver" }
func (*naver) Ext() string         { return "tsv" }
func (*naver) ContentType() string { return "text/tab-separated-values; charset=utf-8" }

var naverCondition = map[string]string{
	catalog.ConditionNew:         "신상품",
	catalog.ConditionUsed:        "중고",
	catalog.ConditionRefurbished: "리퍼",
	"":                           "",
}

// Validate implements Platform.
func (n *naver) Validate(p *catalog.Product) (string, bool) {
	if p.Currency != "KRW" {
		return "not_krw", false
	}
	p.ID = singleLine(p.ID)
	if p.ID == "" {
		return "missing_id", false
	}
	if runeLen(p.ID) > naverIDMax {
		return "id_too_long", false
	}
	p.Title = singleLine(p.Title)
	if p.Title == "" {
		return "missing_title", false
	}
	p.Title, _ = truncateRunes(p.Title, naverTitleMax)
	switch p.Availability {
	case catalog.AvailabilityInStock, catalog.AvailabilityPreorder, catalog.AvailabilityBackorder:
	case catalog.AvailabilityOutOfStock:
		return "out_of_stock", false
	case "":
		return "missing_availability", false
	default:
		return "bad_availability", false
	}
	c, ok := naverCondition[p.Condition]
	if !ok {
		return "bad_condition", false
	}
	p.Condition = c
	if r, ok := checkPrice(p); !ok {
		return r, false
	}
	if r, ok := checkURLs(p, naverURLMax, naverExtraMax, 0); !ok {
		return r, false
	}
	p.CategoryPath = singleLine(p.CategoryPath)
	if first, _, _ := strings.Cut(p.CategoryPath, ">"); strings.TrimSpace(first) == "" {
		return "missing_category", false
	}
	if p.ShippingCost < 0 {
		if n.defaultShipping < 0 {
			return "missing_shipping", false
		}
		p.ShippingCost = n.defaultShipping
	}
	p.Brand = singleLine(p.Brand)
	p.MPN = singleLine(p.MPN)
	if !validGTIN(p.GTIN) {
		p.GTIN = ""
	}
	p.ItemGroupID = singleLine(p.ItemGroupID)
	return "", true
}

// CountItems implements Platform: one line per item after the header.
func (*naver) CountItems(r io.Reader) (int64, error) {
	header := strings.Join(naverColumns, "\t") + "\n"
	n := int64(-1)
	err := eachLine(r, func(line []byte) error {
		if n < 0 && string(line) != header {
			return errors.New("not a Naver EP: unexpected header")
		}
		n++
		return nil
	})
	if n < 0 && err == nil {
		err = errors.New("not a Naver EP: no header")
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// WriteHeader implements Platform.
func (*naver) WriteHeader(w *bufio.Writer, _ Channel) error {
	_, err := w.WriteString(strings.Join(naverColumns, "\t") + "\n")
	return err
}

// WriteItem implements Platform. The row is built in a reused buffer with
// appends (no allocation per item) and written at once. Validate made every
// value one line, so nothing needs escaping.
func (n *naver) WriteItem(w *bufio.Writer, p *catalog.Product) error {
	b := n.buf[:0]
	field := func(s string) {
		b = append(b, s...)
		b = append(b, '\t')
	}
	pc := p.Price
	if p.SalePrice > 0 {
		pc = p.SalePrice
	}
	field(p.ID)
	field(p.Title)
	b = strconv.AppendInt(b, pc, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, pc, 10)
	b = append(b, '\t')
	if p.SalePrice > 0 {
		b = strconv.AppendInt(b, p.Price, 10)
	}
	b = append(b, '\t')
	field(p.Link)
	field(p.MobileLink)
	field(p.ImageLink)
	b = appendImages(b, p.AdditionalImageLinks, '|', naverExtraMax*(naverURLMax+1))
	b = append(b, '\t')
	rest := p.CategoryPath
	for i := range 4 {
		part, more, found := strings.Cut(rest, ">")
		if i == 3 && found {
			// The deepest column keeps the remaining levels, '>' as spaces.
			start := len(b)
			b = append(b, strings.TrimFunc(rest, spaceOrGT)...)
			for k := start; k < len(b); k++ {
				if b[k] == '>' {
					b[k] = ' '
				}
			}
			b = append(b, '\t')
			break
		}
		field(strings.TrimSpace(part))
		rest = more
	}
	field(p.Condition)
	field(p.Brand)
	field(p.MPN)
	field(p.GTIN)
	field(p.ItemGroupID)
	b = strconv.AppendInt(b, p.ShippingCost, 10)
	b = append(b, '\n')
	n.buf = b
	_, err := w.Write(b)
	return err
}

// spaceOrGT is what the deepest category column is trimmed of.
func spaceOrGT(r rune) bool { return r == '>' || unicode.IsSpace(r) }

// WriteFooter implements Platform.
func (*naver) WriteFooter(*bufio.Writer) error { return nil }
