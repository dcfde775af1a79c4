// Package mapping turns a source record into a canonical catalog.Product:
// it finds each canonical field's column (a per-shop mapping first, then
// common column names), cleans values, parses prices into minor units and
// normalises enumerations. A record that cannot make a publishable product
// gets a drop reason instead.
package mapping

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/feedbatch/feedbatch/catalog"
	"github.com/feedbatch/feedbatch/stages/collect/parse"
)

// Canonical field names (the catalog's Parquet column names), as a per-shop
// mapping names them.
const (
	FieldID              = "id"
	FieldItemGroupID     = "item_group_id"
	FieldTitle           = "title"
	FieldDescription     = "description"
	FieldLink            = "link"
	FieldMobileLink      = "mobile_link"
	FieldImageLink       = "image_link"
	FieldAdditionalImage = "additional_image_links"
	FieldPrice           = "price"
	FieldSalePrice       = "sale_price"
	FieldCurrency        = "currency"
	FieldAvailability    = "availability"
	FieldCondition       = "condition"
	FieldBrand           = "brand"
	FieldGTIN            = "gtin"
	FieldMPN             = "mpn"
	FieldCategoryPath    = "category_path"
	FieldProductType     = "product_type"
	FieldShippingCost    = "shipping_cost"
	FieldShippingCountry = "shipping_country"
	FieldShipping        = "shipping" // Google's "country:region:service:price" form
	FieldCustomLabel0    = "custom_label_0"
	FieldCustomLabel1    = "custom_label_1"
	FieldCustomLabel2    = "custom_label_2"
	FieldCustomLabel3    = "custom_label_3"
	FieldCustomLabel4    = "custom_label_4"
	FieldUpdatedAt       = "updated_at"
	// FieldAvailabilityDate is when a preorder/backorder item is available.
	FieldAvailabilityDate = "availability_date"
)

// Drop reasons.
const (
	ReasonMissingID    = "missing_id"
	ReasonMissingTitle = "missing_title"
	ReasonMissingLink  = "missing_link"
	ReasonInvalidLink  = "invalid_link"
	ReasonMissingPrice = "missing_price"
	ReasonInvalidPrice = "invalid_price"
	ReasonCurrency     = "currency_mismatch"
)

// Notes: repairs counted but not dropped (Result.Counts keys).
const (
	NoteEncodingRepaired    = "fixed_encoding"
	NoteInvalidImageLink    = "invalid_image_link"
	NoteInvalidMobileLink   = "invalid_mobile_link"
	NoteInvalidSalePrice    = "invalid_sale_price"
	NoteSaleNotLower        = "sale_price_not_lower"
	NoteUnknownAvailability = "unknown_availability"
	NoteUnknownCondition    = "unknown_condition"
	NoteInvalidGTIN         = "invalid_gtin"
	NoteInvalidUpdatedAt    = "invalid_updated_at"
	NoteInvalidShipping     = "invalid_shipping"
	// NoteInvalidAvailabilityDate: an availability date that is not an ISO
	// 8601 date or date-time is left out.
	NoteInvalidAvailabilityDate = "invalid_availability_date"
)

// defaults lists each canonical field's common column names, best first.
// Names are compared normalised: lower case, without spaces, '_' and '-'.
var defaults = []struct {
	field   string
	aliases []string
}{
	{FieldID, []string{"id", "sku", "product_id", "productid", "item_id", "product_code", "goods_no", "goods_code", "상품번호", "상품코드", "상품id", "제품번호", "offer_id", "variant_id"}},
	{FieldItemGroupID, []string{"item_group_id", "group_id", "parent_id", "parent_sku", "model_id", "상품그룹", "그룹id"}},
	{FieldTitle, []string{"title", "name", "product_name", "item_name", "goods_name", "상품명", "제품명", "상품이름"}},
	{FieldDescription, []string{"description", "desc", "body", "body_html", "product_description", "long_description", "상품설명", "설명", "상세설명"}},
	{FieldLink, []string{"link", "url", "product_url", "product_link", "page_url", "상품url", "상품링크", "링크"}},
	{FieldMobileLink, []string{"mobile_link", "mobile_url", "m_url", "모바일url", "모바일링크", "모바일상품url"}},
	{FieldImageLink, []string{"image_link", "image", "image_url", "img", "img_url", "main_image", "이미지", "이미지url", "대표이미지", "이미지링크"}},
	{FieldAdditionalImage, []string{"additional_image_link", "additional_image_links", "additional_images", "images", "images.src", "images.url", "extra_images", "추가이미지"}},
	{FieldPrice, []string{"price", "regular_price", "list_price", "original_price", "normal_price", "price.amount", "price.value", "정가", "판매가", "가격", "판매가격", "소비자가"}},
	{FieldSalePrice, []string{"sale_price", "saleprice", "discount_price", "special_price", "sale_price.amount", "sale_price.value", "할인가", "세일가", "할인판매가"}},
	{FieldCurrency, []string{"currency", "currency_code", "price_currency", "price.currency", "price.currency_code", "통화"}},
	{FieldAvailability, []string{"availability", "stock", "in_stock", "stock_status", "inventory", "quantity", "재고", "재고상태", "재고수량", "품절여부", "판매상태"}},
	{FieldCondition, []string{"condition", "item_condition", "상품상태"}},
	{FieldBrand, []string{"brand", "manufacturer", "vendor", "maker", "브랜드", "제조사"}},
	{FieldGTIN, []string{"gtin", "ean", "upc", "barcode", "isbn", "jan", "바코드"}},
	{FieldMPN, []string{"mpn", "model", "model_number", "모델명", "모델번호"}},
	// Google's product_type is the shop's own category path; its
	// google_product_category is what the catalog calls ProductType.
	{FieldCategoryPath, []string{"category_path", "category", "categories", "product_type", "카테고리", "분류", "카테고리명"}},
	{FieldProductType, []string{"google_product_category", "google_category", "google_product_category_id"}},
	{FieldShippingCost, []string{"shipping_cost", "shipping_price", "shipping.price", "delivery_fee", "shipping_fee", "배송비", "배송료"}},
	{FieldShippingCountry, []string{"shipping_country", "shipping.country"}},
	{FieldShipping, []string{"shipping"}},
	{FieldCustomLabel0, []string{"custom_label_0"}},
	{FieldCustomLabel1, []string{"custom_label_1"}},
	{FieldCustomLabel2, []string{"custom_label_2"}},
	{FieldCustomLabel3, []string{"custom_label_3"}},
	{FieldCustomLabel4, []string{"custom_label_4"}},
	{FieldUpdatedAt, []string{"updated_at", "updated", "last_modified", "modified", "modified_at", "update_time", "수정일", "수정일시"}},
	{FieldAvailabilityDate, []string{"availability_date", "restock_date", "available_date", "입고예정일", "재입고일", "재입고예정일"}},
}

const (
	fID = iota
	fItemGroupID
	fTitle
	fDescription
	fLink
	fMobileLink
	fImageLink
	fAdditionalImage
	fPrice
	fSalePrice
	fCurrency
	fAvailability
	fCondition
	fBrand
	fGTIN
	fMPN
	fCategoryPath
	fProductType
	fShippingCost
	fShippingCountry
	fShipping
	fCustom0
	fCustom1
	fCustom2
	fCustom3
	fCustom4
	fUpdatedAt
	fAvailabilityDate
	numFields
)

// Fields lists the canonical field names a mapping may use.
func Fields() []string {
	var out []string
	for _, d := range defaults {
		out = append(out, d.field)
	}
	return out
}

// Normalize is how column names are compared: lower case, without spaces,
// underscores and hyphens, and without an XML namespace prefix ("g:").
func Normalize(name string) string {
	name = strings.TrimSpace(name)
	if i := strings.IndexByte(name, ':'); i >= 0 && i < len(name)-1 {
		name = name[i+1:]
	}
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		if r == ' ' || r == '_' || r == '-' || unicode.IsSpace(r) || r == '\ufeff' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// Config is one shop's mapping settings.
type Config struct {
	// Mapping is canonical field -> source column (manifest.Source.Mapping).
	Mapping map[string]string
	// Currency is the shop's currency for prices that name none.
	Currency string
	// StripHTML removes markup from descriptions.
	StripHTML bool
}

// Mapper maps records of one source. It is not safe for concurrent use.
type Mapper struct {
	cfg      Config
	explicit [numFields]string   // normalised column per field from the mapping
	rank     map[string][2]int32 // normalised name -> field, alias rank
	norm     map[string]string   // cache of Normalize
	// cache for sources whose records share one names slice
	cacheNames []string
	cacheIdx   [numFields]int
	// Counts are the repairs made so far, by note.
	Counts map[string]int64
}

// New checks cfg and returns a Mapper.
func New(cfg Config) (*Mapper, error) {
	m := &Mapper{cfg: cfg, rank: map[string][2]int32{}, norm: map[string]string{}, Counts: map[string]int64{}}
	for fi, d := range defaults {
		for ai, a := range d.aliases {
			n := Normalize(a)
			if _, ok := m.rank[n]; !ok {
				m.rank[n] = [2]int32{int32(fi), int32(ai)}
			}
		}
	}
	for field, col := range cfg.Mapping {
		fi := slices.IndexFunc(defaults[:], func(d struct {
			field   string
			aliases []string
		}) bool {
			return d.field == field
		})
		if fi < 0 {
			return nil, fmt.Errorf("mapping: unknown catalog field %q (fields: %s)", field, strings.Join(Fields(), ", "))
		}
		if strings.TrimSpace(col) == "" {
			return nil, fmt.Errorf("mapping: field %q maps to an empty column name", field)
		}
		m.explicit[fi] = Normalize(col)
	}
	return m, nil
}

func (m *Mapper) normalize(name string) string {
	if n, ok := m.norm[name]; ok {
		return n
	}
	n := Normalize(name)
	if len(m.norm) < 10000 {
		m.norm[name] = n
	}
	return n
}

// resolve finds each field's index in names (-1: none).
func (m *Mapper) resolve(names []string) [numFields]int {
	if len(names) > 0 && len(names) == len(m.cacheNames) && &names[0] == &m.cacheNames[0] {
		return m.cacheIdx
	}
	var idx [numFields]int
	var best [numFields]int32
	for i := range idx {
		idx[i], best[i] = -1, 1<<30
	}
	for i, name := range names {
		n := m.normalize(name)
		for f := range numFields {
			if m.explicit[f] != "" && m.explicit[f] == n && idx[f] < 0 {
				idx[f], best[f] = i, -1
			}
		}
		if r, ok := m.rank[n]; ok {
			f := r[0]
			if m.explicit[f] == "" && r[1] < best[f] {
				idx[f], best[f] = i, r[1]
			}
		}
	}
	// A source with only a sale price column uses it as the price.
	if idx[fPrice] < 0 && m.explicit[fPrice] == "" && idx[fSalePrice] >= 0 {
		idx[fPrice], idx[fSalePrice] = idx[fSalePrice], -1
	}
	if len(names) > 0 {
		m.cacheNames, m.cacheIdx = names, idx
	}
	return idx
}

// CheckColumns is for sources with a fixed header (CSV, SQL): it reports a
// mapped column that does not exist, or a required field (id, title, link,
// price) that no column provides, with the columns the source has.
func (m *Mapper) CheckColumns(names []string) error {
	m.cacheNames = nil
	idx := m.resolve(names)
	m.cacheNames = nil
	for f, col := range m.explicit {
		if col != "" && idx[f] < 0 {
			return fmt.Errorf("mapping: %s -> %q: the source has no such column (columns: %s)", defaults[f].field, m.cfg.Mapping[defaults[f].field], strings.Join(names, ", "))
		}
	}
	var missing []string
	for _, f := range []int{fID, fTitle, fLink, fPrice} {
		if idx[f] < 0 {
			missing = append(missing, fmt.Sprintf("%s (looked for %s)", defaults[f].field, strings.Join(defaults[f].aliases[:min(4, len(defaults[f].aliases))], ", ")))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no column for %s; the source has: %s; add the column names to the shop's mapping", strings.Join(missing, "; "), strings.Join(names, ", "))
	}
	return nil
}

func (m *Mapper) note(n string) { m.Counts[n]++ }

// Map makes a product of rec. A non-empty reason means the record is
// dropped.
func (m *Mapper) Map(rec parse.Record) (catalog.Product, string) {
	idx := m.resolve(rec.Names)
	get := func(f int) string {
		if idx[f] < 0 || idx[f] >= len(rec.Values) {
			return ""
		}
		v, fixed := Clean(rec.Values[idx[f]])
		if fixed {
			m.note(NoteEncodingRepaired)
		}
		return v
	}
	var p catalog.Product
	p.ID = get(fID)
	if p.ID == "" {
		return p, ReasonMissingID
	}
	p.Title = get(fTitle)
	if p.Title == "" {
		return p, ReasonMissingTitle
	}
	link := get(fLink)
	if link == "" {
		return p, ReasonMissingLink
	}
	var ok bool
	if p.Link, ok = CleanURL(link); !ok {
		return p, ReasonInvalidLink
	}

	cur := get(fCurrency)
	if cur == "" {
		cur = m.cfg.Currency
	}
	price := get(fPrice)
	if price == "" {
		return p, ReasonMissingPrice
	}
	minor, c, err := ParsePrice(price, cur)
	if err != nil || minor <= 0 {
		return p, ReasonInvalidPrice
	}
	p.Price, p.Currency = minor, c
	if sp := get(fSalePrice); sp != "" {
		smin, sc, err := ParsePrice(sp, p.Currency)
		switch {
		case err != nil || smin <= 0:
			m.note(NoteInvalidSalePrice)
		case sc != p.Currency:
			return p, ReasonCurrency
		case smin >= p.Price:
			m.note(NoteSaleNotLower)
		default:
			p.SalePrice = smin
		}
	}

	p.ItemGroupID = get(fItemGroupID)
	p.Description = get(fDescription)
	if m.cfg.StripHTML && p.Description != "" {
		p.Description, _ = Clean(StripHTML(p.Description))
	}
	if v := get(fMobileLink); v != "" {
		if p.MobileLink, ok = CleanURL(v); !ok {
			m.note(NoteInvalidMobileLink)
		}
	}
	if v := get(fImageLink); v != "" {
		if p.ImageLink, ok = CleanURL(v); !ok {
			m.note(NoteInvalidImageLink)
		}
	}
	if v := get(fAdditionalImage); v != "" {
		for _, u := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '|' || r == ' ' || r == ';' }) {
			if len(p.AdditionalImageLinks) == catalog.MaxAdditionalImages {
				break
			}
			if cu, ok := CleanURL(u); ok {
				if cu != p.ImageLink && !slices.Contains(p.AdditionalImageLinks, cu) {
					p.AdditionalImageLinks = append(p.AdditionalImageLinks, cu)
				}
			} else {
				m.note(NoteInvalidImageLink)
			}
		}
	}
	if p.ImageLink == "" && len(p.AdditionalImageLinks) > 0 {
		p.ImageLink, p.AdditionalImageLinks = p.AdditionalImageLinks[0], p.AdditionalImageLinks[1:]
		if len(p.AdditionalImageLinks) == 0 {
			p.AdditionalImageLinks = nil
		}
	}
	p.Availability = m.availability(get(fAvailability))
	p.Condition = m.condition(get(fCondition))
	p.Brand = get(fBrand)
	if v := get(fGTIN); v != "" {
		if g, ok := cleanGTIN(v); ok {
			p.GTIN = g
		} else {
			m.note(NoteInvalidGTIN)
		}
	}
	p.MPN = get(fMPN)
	p.CategoryPath = categoryPath(get(fCategoryPath))
	p.ProductType = get(fProductType)
	p.ShippingCost = -1
	if v := get(fShippingCost); v != "" {
		p.ShippingCost = m.shippingCost(v, p.Currency)
	}
	p.ShippingCountry = strings.ToUpper(get(fShippingCountry))
	if v := get(fShipping); v != "" && p.ShippingCost < 0 {
		// Google's country:region:service:price.
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			if p.ShippingCountry == "" {
				p.ShippingCountry = strings.ToUpper(strings.TrimSpace(parts[0]))
			}
			p.ShippingCost = m.shippingCost(parts[len(parts)-1], p.Currency)
		} else {
			p.ShippingCost = m.shippingCost(v, p.Currency)
		}
	}
	if len(p.ShippingCountry) != 2 {
		p.ShippingCountry = ""
	}
	p.CustomLabel0 = get(fCustom0)
	p.CustomLabel1 = get(fCustom1)
	p.CustomLabel2 = get(fCustom2)
	p.CustomLabel3 = get(fCustom3)
	p.CustomLabel4 = get(fCustom4)
	if v := get(fUpdatedAt); v != "" {
		if t, ok := parseTime(v); ok {
			p.UpdatedAt = t
		} else {
			m.note(NoteInvalidUpdatedAt)
		}
	}
	if v := get(fAvailabilityDate); v != "" {
		if t, ok := parseDate(v); ok {
			p.AvailabilityDate = t
		} else {
			m.note(NoteInvalidAvailabilityDate)
		}
	}
	return p, ""
}

func (m *Mapper) shippingCost(v, currency string) int64 {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "free", "무료", "무료배송", "0":
		return 0
	}
	minor, c, err := ParsePrice(v, currency)
	if err != nil || c != currency {
		m.note(NoteInvalidShipping)
		return -1
	}
	return minor
}

var availabilityWords = map[string]string{
	"instock": catalog.AvailabilityInStock, "available": catalog.AvailabilityInStock, "yes": catalog.AvailabilityInStock,
	"y": catalog.AvailabilityInStock, "true": catalog.AvailabilityInStock, "onsale": catalog.AvailabilityInStock,
	"limitedavailability": catalog.AvailabilityInStock, "재고있음": catalog.AvailabilityInStock, "판매중": catalog.AvailabilityInStock,
	"있음": catalog.AvailabilityInStock, "instockonly": catalog.AvailabilityInStock,
	"plenty": catalog.AvailabilityInStock, "low": catalog.AvailabilityInStock, "lowstock": catalog.AvailabilityInStock,
	"limited": catalog.AvailabilityInStock, "fewleft": catalog.AvailabilityInStock, "lastfew": catalog.AvailabilityInStock,
	"none": catalog.AvailabilityOutOfStock, "nostock": catalog.AvailabilityOutOfStock, "empty": catalog.AvailabilityOutOfStock,
	"outofstock": catalog.AvailabilityOutOfStock, "soldout": catalog.AvailabilityOutOfStock, "no": catalog.AvailabilityOutOfStock,
	"n": catalog.AvailabilityOutOfStock, "false": catalog.AvailabilityOutOfStock, "unavailable": catalog.AvailabilityOutOfStock,
	"discontinued": catalog.AvailabilityOutOfStock, "품절": catalog.AvailabilityOutOfStock, "재고없음": catalog.AvailabilityOutOfStock,
	"일시품절": catalog.AvailabilityOutOfStock, "판매중지": catalog.AvailabilityOutOfStock, "없음": catalog.AvailabilityOutOfStock,
	"preorder": catalog.AvailabilityPreorder, "예약판매": catalog.AvailabilityPreorder, "예약": catalog.AvailabilityPreorder,
	"backorder": catalog.AvailabilityBackorder, "backordered": catalog.AvailabilityBackorder,
}

// availability normalises a stock value; empty means in stock, a number is
// a quantity.
func (m *Mapper) availability(v string) string {
	if v == "" {
		return catalog.AvailabilityInStock
	}
	n := Normalize(strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(v), "https://schema.org/"), "http://schema.org/"))
	if a, ok := availabilityWords[n]; ok {
		return a
	}
	if q, err := strconv.ParseFloat(n, 64); err == nil {
		if q > 0 {
			return catalog.AvailabilityInStock
		}
		return catalog.AvailabilityOutOfStock
	}
	m.note(NoteUnknownAvailability)
	return catalog.AvailabilityInStock
}

var conditionWords = map[string]string{
	"new": catalog.ConditionNew, "신상품": catalog.ConditionNew, "새상품": catalog.ConditionNew, "신품": catalog.ConditionNew, "newcondition": catalog.ConditionNew,
	"used": catalog.ConditionUsed, "중고": catalog.ConditionUsed, "usedcondition": catalog.ConditionUsed, "secondhand": catalog.ConditionUsed,
	"refurbished": catalog.ConditionRefurbished, "refurb": catalog.ConditionRefurbished, "리퍼": catalog.ConditionRefurbished,
	"리퍼비시": catalog.ConditionRefurbished, "refurbishedcondition": catalog.ConditionRefurbished,
}

func (m *Mapper) condition(v string) string {
	if v == "" {
		return catalog.ConditionNew
	}
	n := Normalize(strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(v), "https://schema.org/"), "http://schema.org/"))
	if c, ok := conditionWords[n]; ok {
		return c
	}
	m.note(NoteUnknownCondition)
	return catalog.ConditionNew
}

func cleanGTIN(v string) (string, bool) {
	g := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, v)
	for _, r := range g {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	switch len(g) {
	case 8, 12, 13, 14:
		return g, true
	}
	return "", false
}

// categoryPath normalises "A>B > C" and "A/B/C" style paths to "A > B > C".
func categoryPath(v string) string {
	if v == "" {
		return ""
	}
	sep := ">"
	if !strings.Contains(v, ">") {
		if strings.Count(v, "/") > 0 && !strings.Contains(v, "://") {
			sep = "/"
		} else {
			return v
		}
	}
	var parts []string
	for _, p := range strings.Split(v, sep) {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " > ")
}

var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04:05-07", "2006-01-02 15:04:05.999999-07",
	"2006-01-02 15:04", "2006-01-02", "2006/01/02 15:04:05", "2006/01/02", "2006.01.02", time.RFC1123Z, time.RFC1123,
}

// dateLayouts are the ISO 8601 dates and date-times an availability date
// may have (no epoch numbers: "20261201" is a date, not a Unix time).
var dateLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04",
	"2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04", "2006-01-02",
	"20060102", "2006/01/02", "2006.01.02",
}

// parseDate parses an ISO 8601 date or date-time; one without a zone is UTC.
func parseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func parseTime(v string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), true
		}
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		if n > 1e12 { // milliseconds
			return time.UnixMilli(n).UTC(), true
		}
		return time.Unix(n, 0).UTC(), true
	}
	return time.Time{}, false
}
