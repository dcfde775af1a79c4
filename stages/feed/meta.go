package feed

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/stages/platform"
)

// Meta (Facebook/Instagram) catalog CSV (reference/feeds.md section 2).
// RFC 4180 quoting; a field is quoted when it holds a comma, a quote, a
// line break or any space (Meta: "quote fields that contain whitespace or
// commas"); an embedded quote is doubled. Rules and what happens past them:
//
//	id               100   drop (identity; must match the pixel's content_id)
//	title            200   truncate; one line
//	description     9999   truncate; HTML tags and entities removed (Meta wants
//	                       plain text); required: drop if empty
//	availability           in_stock -> "in stock", out_of_stock -> "out of stock",
//	                       preorder -> "preorder", backorder -> "available for order"
//	condition              new|refurbished|used, required: drop if missing
//	brand            100   truncate; brand or gtin or mpn required: drop if none
//	price                  > 0, "15000 KRW" / "59.00 USD"
//	link, image_link       absolute http(s), RFC 3986 (2000 chars, as Google)
//	additional_image_link  up to 10 from the catalog (Meta allows 20), joined by
//	                       ',' with commas inside URLs as %2C, whole list <= 2000
//	                       chars: images that do not fit are left out
//	shipping               "KR::Standard:3000 KRW" when cost and country are known
const (
	metaIDMax      = 100
	metaTitleMax   = 200
	metaDescMax    = 9999
	metaBrandMax   = 100
	metaURLMax     = 2000
	metaExtraMax   = 10
	metaExtraChars = 2000
	metaLabelMax   = 100
)

var metaColumns = []string{
	"id", "item_group_id", "title", "description", "availability", "condition",
	"price", "sale_price", "link", "image_link", "additional_image_link",
	"brand", "gtin", "mpn", "google_product_category", "product_type", "shipping",
	"custom_label_0", "custom_label_1", "custom_label_2", "custom_label_3", "custom_label_4",
}

func init() {
	Register(platform.Spec{Name: "meta", MinImageSide: 500}, func(cfg Config) (Platform, error) { return &meta{country: cfg.Country}, nil })
}

type meta struct {
	country string
	buf     []byte // WriteItem's reused row buffer
	images  []byte // WriteItem's reused image list buffer
}

func (*meta) Name() string        { return "meta" }
func (*meta) Ext() string         { return "csv" }
func (*meta) ContentType() string { return "text/csv; charset=utf-8" }

var metaAvailability = map[string]string{
	catalog.AvailabilityInStock:    "in stock",
	catalog.AvailabilityOutOfStock: "out of stock",
	catalog.AvailabilityPreorder:   "preorder",
	catalog.AvailabilityBackorder:  "available for order",
}

// Validate implements Platform.
func (m *meta) Validate(p *catalog.Product) (string, bool) {
	if p.ID == "" {
		return "missing_id", false
	}
	if runeLen(p.ID) > metaIDMax {
		return "id_too_long", false
	}
	p.Title = singleLine(p.Title)
	if p.Title == "" {
		return "missing_title", false
	}
	p.Title, _ = truncateRunes(p.Title, metaTitleMax)
	if p.Description == "" {
		return "missing_description", false
	}
	p.Description, _ = truncateRunes(p.Description, metaDescMax)
	a, ok := metaAvailability[p.Availability]
	if !ok {
		if p.Availability == "" {
			return "missing_availability", false
		}
		return "bad_availability", false
	}
	p.Availability = a
	switch p.Condition {
	case catalog.ConditionNew, catalog.ConditionRefurbished, catalog.ConditionUsed:
	case "":
		return "missing_condition", false
	default:
		return "bad_condition", false
	}
	if r, ok := checkPrice(p); !ok {
		return r, false
	}
	if r, ok := checkURLs(p, metaURLMax, metaExtraMax, 0); !ok {
		return r, false
	}
	p.Brand, _ = truncateRunes(singleLine(p.Brand), metaBrandMax)
	if !validGTIN(p.GTIN) {
		p.GTIN = ""
	}
	p.MPN = singleLine(p.MPN)
	if p.Brand == "" && p.GTIN == "" && p.MPN == "" {
		return "missing_brand_gtin_mpn", false
	}
	p.CategoryPath = singleLine(p.CategoryPath)
	p.ProductType = singleLine(p.ProductType)
	for _, l := range []*string{&p.CustomLabel0, &p.CustomLabel1, &p.CustomLabel2, &p.CustomLabel3, &p.CustomLabel4} {
		*l, _ = truncateRunes(singleLine(*l), metaLabelMax)
	}
	if p.ShippingCountry == "" {
		p.ShippingCountry = m.country
	}
	return "", true
}

// appendCSVField appends one RFC 4180 field to b. A field starting with
// '#' is quoted too: at the start of a line Meta would read it as a metadata
// comment ("# ref_application_id ...").
func appendCSVField[T string | []byte](b []byte, s T) []byte {
	plain := len(s) == 0 || s[0] != '#'
	for i := 0; plain && i < len(s); i++ {
		plain = !csvSpecial[s[i]]
	}
	if plain {
		return append(b, s...)
	}
	b = append(b, '"')
	last := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, s[last:i+1]...)
			b = append(b, '"')
			last = i + 1
		}
	}
	b = append(b, s[last:]...)
	return append(b, '"')
}

var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true, ' ': true, '\t': true}

// CountItems implements Platform: RFC 4180 records after the header (a
// quoted field may span lines).
func (*meta) CountItems(r io.Reader) (int64, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(metaColumns)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return 0, fmt.Errorf("header: %w", err)
	}
	if !slices.Equal(head, metaColumns) {
		return 0, errors.New("not a Meta catalog CSV: unexpected header")
	}
	var n int64
	for {
		_, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		n++
	}
}

// WriteHeader implements Platform.
func (*meta) WriteHeader(w *bufio.Writer, _ Channel) error {
	_, err := w.WriteString(strings.Join(metaColumns, ",") + "\n")
	return err
}

// WriteItem implements Platform. The row is built in a reused buffer with
// appends (no allocation per item) and written at once.
func (m *meta) WriteItem(w *bufio.Writer, p *catalog.Product) error {
	b := m.buf[:0]
	field := func(s string) {
		b = appendCSVField(b, s)
		b = append(b, ',')
	}
	// A price has a space, so it is always quoted, and has nothing to escape.
	price := func(minor int64) {
		b = append(b, '"')
		b = appendPriceText(b, minor, p.Currency)
		b = append(b, '"', ',')
	}
	field(p.ID)
	field(p.ItemGroupID)
	field(p.Title)
	field(p.Description)
	field(p.Availability)
	field(p.Condition)
	price(p.Price)
	if p.SalePrice > 0 {
		price(p.SalePrice)
	} else {
		b = append(b, ',')
	}
	field(p.Link)
	field(p.ImageLink)
	m.images = appendImages(m.images[:0], p.AdditionalImageLinks, ',', metaExtraChars)
	b = appendCSVField(b, m.images)
	b = append(b, ',')
	field(p.Brand)
	field(p.GTIN)
	field(p.MPN)
	field(p.ProductType)
	field(p.CategoryPath)
	if p.ShippingCost >= 0 && isUpperCode(p.ShippingCountry, 2) {
		// "KR::Standard:3000 KRW": quoted for its space, nothing to escape.
		b = append(b, '"')
		b = append(b, p.ShippingCountry...)
		b = append(b, "::Standard:"...)
		b = appendPriceText(b, p.ShippingCost, p.Currency)
		b = append(b, '"', ',')
	} else {
		b = append(b, ',')
	}
	field(p.CustomLabel0)
	field(p.CustomLabel1)
	field(p.CustomLabel2)
	field(p.CustomLabel3)
	b = appendCSVField(b, p.CustomLabel4)
	b = append(b, '\n')
	m.buf = b
	_, err := w.Write(b)
	return err
}

// appendImages appends urls joined by sep (encoding sep inside them) to b,
// leaving out those that would take the list past maxChars.
func appendImages(b []byte, urls []string, sep byte, maxChars int) []byte {
	start := len(b)
	for _, u := range urls {
		u = encodeListSep(u, sep)
		n := len(u)
		if len(b) > start {
			n++
		}
		if len(b)-start+n > maxChars {
			break
		}
		if len(b) > start {
			b = append(b, sep)
		}
		b = append(b, u...)
	}
	return b
}

// WriteFooter implements Platform.
func (*meta) WriteFooter(*bufio.Writer) error { return nil }
