package feed

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/stages/platform"
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
//	                       backorder need availability_date: dropped without one
//	                       (GMC rejects them)
//	availability_date      preorder/backorder only, ISO 8601 in UTC
//	                       ("2026-12-25T13:00Z")
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
	// Google: 500x500 for all products from 2027-01-31.
	Register(platform.Spec{Name: "google", MinImageSide: 500}, func(cfg Config) (Platform, error) { return &google{country: cfg.Country}, nil })
}

type google struct {
	country string
	buf     []byte // WriteItem's reused item buffer
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
		if p.AvailabilityDate.IsZero() {
			return "missing_availability_date", false
		}
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

// CountItems implements Platform: every item starts with a line "<item>",
// which escaped text cannot hold.
func (*google) CountItems(r io.Reader) (int64, error) {
	var n int64
	var header, footer bool
	err := eachLine(r, func(line []byte) error {
		switch {
		case !header:
			if !bytes.HasPrefix(line, []byte("<?xml ")) {
				return errors.New("not an RSS feed")
			}
			header = true
		case string(line) == "<item>\n":
			n++
		case string(line) == "</rss>\n":
			footer = true
		}
		return nil
	})
	if err == nil && !footer {
		err = errors.New("no </rss>: truncated feed")
	}
	if err != nil {
		return 0, err
	}
	return n, nil
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

// gElem appends <g:name>value</g:name> (open and end are the tags, end
// with its newline); an empty value appends nothing.
func gElem(b []byte, open, end, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, open...)
	b = appendXMLText(b, value)
	return append(b, end...)
}

// gPrice appends a price element; a price needs no escaping.
func gPrice(b []byte, open, end string, minor int64, currency string) []byte {
	b = append(b, open...)
	b = appendPriceText(b, minor, currency)
	return append(b, end...)
}

// WriteItem implements Platform. The item is built in a reused buffer with
// appends (no allocation per item) and written at once.
func (g *google) WriteItem(w *bufio.Writer, p *catalog.Product) error {
	b := append(g.buf[:0], "<item>\n"...)
	b = gElem(b, "<g:id>", "</g:id>\n", p.ID)
	b = gElem(b, "<g:item_group_id>", "</g:item_group_id>\n", p.ItemGroupID)
	b = gElem(b, "<g:title>", "</g:title>\n", p.Title)
	b = gElem(b, "<g:description>", "</g:description>\n", p.Description)
	b = gElem(b, "<g:link>", "</g:link>\n", p.Link)
	b = gElem(b, "<g:mobile_link>", "</g:mobile_link>\n", p.MobileLink)
	b = gElem(b, "<g:image_link>", "</g:image_link>\n", p.ImageLink)
	for _, a := range p.AdditionalImageLinks {
		b = gElem(b, "<g:additional_image_link>", "</g:additional_image_link>\n", a)
	}
	b = gElem(b, "<g:availability>", "</g:availability>\n", p.Availability)
	if (p.Availability == catalog.AvailabilityPreorder || p.Availability == catalog.AvailabilityBackorder) &&
		!p.AvailabilityDate.IsZero() {
		b = append(b, "<g:availability_date>"...)
		b = p.AvailabilityDate.UTC().AppendFormat(b, "2006-01-02T15:04Z")
		b = append(b, "</g:availability_date>\n"...)
	}
	b = gPrice(b, "<g:price>", "</g:price>\n", p.Price, p.Currency)
	if p.SalePrice > 0 {
		b = gPrice(b, "<g:sale_price>", "</g:sale_price>\n", p.SalePrice, p.Currency)
	}
	b = gElem(b, "<g:condition>", "</g:condition>\n", p.Condition)
	b = gElem(b, "<g:brand>", "</g:brand>\n", p.Brand)
	b = gElem(b, "<g:gtin>", "</g:gtin>\n", p.GTIN)
	b = gElem(b, "<g:mpn>", "</g:mpn>\n", p.MPN)
	if p.GTIN == "" && (p.Brand == "" || p.MPN == "") {
		b = append(b, "<g:identifier_exists>no</g:identifier_exists>\n"...)
	}
	b = gElem(b, "<g:google_product_category>", "</g:google_product_category>\n", p.ProductType)
	b = gElem(b, "<g:product_type>", "</g:product_type>\n", p.CategoryPath)
	if p.ShippingCost >= 0 && isUpperCode(p.ShippingCountry, 2) {
		b = append(b, "<g:shipping>\n"...)
		b = gElem(b, "<g:country>", "</g:country>\n", p.ShippingCountry)
		b = gPrice(b, "<g:price>", "</g:price>\n", p.ShippingCost, p.Currency)
		b = append(b, "</g:shipping>\n"...)
	}
	b = gElem(b, "<g:custom_label_0>", "</g:custom_label_0>\n", p.CustomLabel0)
	b = gElem(b, "<g:custom_label_1>", "</g:custom_label_1>\n", p.CustomLabel1)
	b = gElem(b, "<g:custom_label_2>", "</g:custom_label_2>\n", p.CustomLabel2)
	b = gElem(b, "<g:custom_label_3>", "</g:custom_label_3>\n", p.CustomLabel3)
	b = gElem(b, "<g:custom_label_4>", "</g:custom_label_4>\n", p.CustomLabel4)
	b = append(b, "</item>\n"...)
	g.buf = b
	_, err := w.Write(b)
	return err
}

// WriteFooter implements Platform.
func (*google) WriteFooter(w *bufio.Writer) error {
	_, err := w.WriteString("</channel>\n</rss>\n")
	return err
}
