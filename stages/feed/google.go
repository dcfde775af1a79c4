package feed

import (
	"bufio"

	"github.com/feedbatch/feedbatch/catalog"
)

// Google Merchant Center: RSS 2.0 with the g: namespace (reference/feeds.md
// section 1). Length limits and what happens past them:
//
//	id                50   drop (an id is an identity: cutting it could merge products)
//	item_group_id     50   drop (same reason)
//	title            150   truncate (display text; GMC truncates with a warning)
//	description     5000   truncate ("Google truncates over-long text"); required: drop if empty;
//	                       sent as plain text (HTML tags and entities removed): Google
//	                       allows a few tags, and plain text is always allowed
//	link, image_link 2000  drop; must be absolute http(s), RFC 3986, ASCII (percent-encoded
//	                       here); ',' in image links as %2C (Google's image guidance)
//	additional_image_link  at most 10, bad ones left out
//	brand, mpn        70   brand truncated; mpn left out (a cut identifier is wrong)
//	gtin                   GTIN-8/12/13/14 with a valid check digit, else left out
//	product_type     750   truncate
//	custom_label_N   100   truncate
//	availability           in_stock|out_of_stock|preorder|backorder; preorder and
//	                       backorder need availability_date, which the catalog
//	                       does not carry: dropped (GMC rejects them)
//	condition              new|refurbished|used or empty (optional for new)
//	price                  > 0, "<amount> <ISO 4217>" with the currency's decimals
const (
	googleNS          = "http://base.google.com/ns/1.0"
	googleIDMax       = 50
	googleTitleMax    = 150
	googleDescMax     = 5000
	googleURLMax      = 2000
	googleExtraImages = 10
	googleBrandMax    = 70
	googleMPNMax      = 70
	googleTypeMax     = 750
	googleLabelMax    = 100
)

func init() {
	Register("google", func(cfg Config) (Platform, error) { return &google{country: cfg.Country}, nil })
}

type google struct {
	country string
}

func (*google) Name() string        { return "google" }
func (*google) Ext() string         { return "xml" }
func (*google) ContentType() string { return "application/rss+xml; charset=utf-8" }

// Validate implements Platform.
func (g *google) Validate(p *catalog.Product) (string, bool) {
	if p.ID == "" {
		return "missing_id", false
	}
	if runeLen(p.ID) > googleIDMax {
		return "id_too_long", false
	}
	if runeLen(p.ItemGroupID) > googleIDMax {
		return "item_group_id_too_long", false
	}
	p.Title = singleLine(p.Title)
	if p.Title == "" {
		return "missing_title", false
	}
	p.Title, _ = truncateRunes(p.Title, googleTitleMax)
	if p.Description == "" {
		return "missing_description", false
	}
	p.Description, _ = truncateRunes(p.Description, googleDescMax)
	switch p.Availability {
	case catalog.AvailabilityInStock, catalog.AvailabilityOutOfStock:
	case catalog.AvailabilityPreorder, catalog.AvailabilityBackorder:
		return "missing_availability_date", false
	case "":
		return "missing_availability", false
	default:
		return "bad_availability", false
	}
	switch p.Condition {
	case "", catalog.ConditionNew, catalog.ConditionRefurbished, catalog.ConditionUsed:
	default:
		return "bad_condition", false
	}
	if r, ok := checkPrice(p); !ok {
		return r, false
	}
	// Google's image guidance: encode ',' in image links as %2C.
	if r, ok := checkURLs(p, googleURLMax, googleExtraImages, ','); !ok {
		return r, false
	}
	p.Brand, _ = truncateRunes(singleLine(p.Brand), googleBrandMax)
	if !validGTIN(p.GTIN) {
		p.GTIN = ""
	}
	if runeLen(p.MPN) > googleMPNMax {
		p.MPN = ""
	}
	p.CategoryPath, _ = truncateRunes(p.CategoryPath, googleTypeMax)
	for _, l := range []*string{&p.CustomLabel0, &p.CustomLabel1, &p.CustomLabel2, &p.CustomLabel3, &p.CustomLabel4} {
		*l, _ = truncateRunes(singleLine(*l), googleLabelMax)
	}
	if p.ShippingCountry == "" {
		p.ShippingCountry = g.country
	}
	return "", true
}

// WriteHeader implements Platform.
func (*google) WriteHeader(w *bufio.Writer, ch Channel) error {
	w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<rss version="2.0" xmlns:g="` + googleNS + `">` + "\n<channel>\n<title>")
	writeXMLText(w, ch.Title)
	w.WriteString("</title>\n<link>")
	writeXMLText(w, ch.Link)
	w.WriteString("</link>\n<description>")
	writeXMLText(w, "Product feed of "+ch.Title)
	_, err := w.WriteString("</description>\n")
	return err
}

func gElem(w *bufio.Writer, name, value string) {
	if value == "" {
		return
	}
	w.WriteString("<g:")
	w.WriteString(name)
	w.WriteByte('>')
	writeXMLText(w, value)
	w.WriteString("</g:")
	w.WriteString(name)
	w.WriteString(">\n")
}

// gPrice writes a price element; a price needs no escaping.
func gPrice(w *bufio.Writer, name string, minor int64, currency string) {
	var buf [64]byte
	b := append(buf[:0], "<g:"...)
	b = append(b, name...)
	b = append(b, '>')
	b = appendPriceText(b, minor, currency)
	b = append(b, "</g:"...)
	b = append(b, name...)
	b = append(b, ">\n"...)
	w.Write(b)
}

// WriteItem implements Platform.
func (*google) WriteItem(w *bufio.Writer, p *catalog.Product) error {
	w.WriteString("<item>\n")
	gElem(w, "id", p.ID)
	gElem(w, "item_group_id", p.ItemGroupID)
	gElem(w, "title", p.Title)
	gElem(w, "description", p.Description)
	gElem(w, "link", p.Link)
	gElem(w, "mobile_link", p.MobileLink)
	gElem(w, "image_link", p.ImageLink)
	for _, a := range p.AdditionalImageLinks {
		gElem(w, "additional_image_link", a)
	}
	gElem(w, "availability", p.Availability)
	gPrice(w, "price", p.Price, p.Currency)
	if p.SalePrice > 0 {
		gPrice(w, "sale_price", p.SalePrice, p.Currency)
	}
	gElem(w, "condition", p.Condition)
	gElem(w, "brand", p.Brand)
	gElem(w, "gtin", p.GTIN)
	gElem(w, "mpn", p.MPN)
	if p.GTIN == "" && (p.Brand == "" || p.MPN == "") {
		gElem(w, "identifier_exists", "no")
	}
	gElem(w, "google_product_category", p.ProductType)
	gElem(w, "product_type", p.CategoryPath)
	if p.ShippingCost >= 0 && isUpperCode(p.ShippingCountry, 2) {
		w.WriteString("<g:shipping>\n")
		gElem(w, "country", p.ShippingCountry)
		gPrice(w, "price", p.ShippingCost, p.Currency)
		w.WriteString("</g:shipping>\n")
	}
	gElem(w, "custom_label_0", p.CustomLabel0)
	gElem(w, "custom_label_1", p.CustomLabel1)
	gElem(w, "custom_label_2", p.CustomLabel2)
	gElem(w, "custom_label_3", p.CustomLabel3)
	gElem(w, "custom_label_4", p.CustomLabel4)
	_, err := w.WriteString("</item>\n")
	return err
}

// WriteFooter implements Platform.
func (*google) WriteFooter(w *bufio.Writer) error {
	_, err := w.WriteString("</channel>\n</rss>\n")
	return err
}
