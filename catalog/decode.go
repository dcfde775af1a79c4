package catalog

import (
	"time"

	"github.com/parquet-go/parquet-go"
)

// productSchema is the Parquet schema of Product, as the Writer writes it.
var productSchema = parquet.SchemaOf(Product{})

// field names the Product field a leaf column fills.
type field uint8

const (
	fNone field = iota
	fID
	fItemGroupID
	fTitle
	fDescription
	fLink
	fMobileLink
	fImageLink
	fAdditionalImageLinks
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
	fCustomLabel0
	fCustomLabel1
	fCustomLabel2
	fCustomLabel3
	fCustomLabel4
	fUpdatedAt
	fAvailabilityDate
)

// columnFields maps a leaf column path (dot-joined) to its field.
var columnFields = map[string]field{
	"id":                                  fID,
	"item_group_id":                       fItemGroupID,
	"title":                               fTitle,
	"description":                         fDescription,
	"link":                                fLink,
	"mobile_link":                         fMobileLink,
	"image_link":                          fImageLink,
	"additional_image_links.list.element": fAdditionalImageLinks,
	"price":                               fPrice,
	"sale_price":                          fSalePrice,
	"currency":                            fCurrency,
	"availability":                        fAvailability,
	"condition":                           fCondition,
	"brand":                               fBrand,
	"gtin":                                fGTIN,
	"mpn":                                 fMPN,
	"category_path":                       fCategoryPath,
	"product_type":                        fProductType,
	"shipping_cost":                       fShippingCost,
	"shipping_country":                    fShippingCountry,
	"custom_label_0":                      fCustomLabel0,
	"custom_label_1":                      fCustomLabel1,
	"custom_label_2":                      fCustomLabel2,
	"custom_label_3":                      fCustomLabel3,
	"custom_label_4":                      fCustomLabel4,
	"updated_at":                          fUpdatedAt,
	"availability_date":                   fAvailabilityDate,
}

// maxInterned bounds each dictionary column's table of shared strings, so
// memory stays flat whatever the number of distinct values; values past it
// are copied like any other string.
const maxInterned = 4096

// decoder turns rows of a file whose schema is exactly productSchema into
// Products without reflection. Values of dictionary columns (currency,
// availability, brand, ...) repeat across rows, so each distinct value is
// allocated once and shared: strings are immutable, so sharing is safe.
type decoder struct {
	fields []field             // by leaf column index
	intern []map[string]string // by leaf column index; nil: not interned
}

// newDecoder returns a decoder for a file with schema s, or nil when s is
// not the schema this package writes (the caller then falls back on
// parquet-go's generic reconstruction).
func newDecoder(s *parquet.Schema) *decoder {
	if !parquet.EqualNodes(s, productSchema) {
		return nil
	}
	cols := s.Columns()
	d := &decoder{fields: make([]field, len(cols)), intern: make([]map[string]string, len(cols))}
	for i, path := range cols {
		key := path[0]
		for _, p := range path[1:] {
			key += "." + p
		}
		f, ok := columnFields[key]
		if !ok {
			return nil
		}
		d.fields[i] = f
		if f == fCurrency || f == fAvailability || f == fCondition || f == fBrand ||
			f == fCategoryPath || f == fProductType || f == fShippingCountry ||
			(f >= fCustomLabel0 && f <= fCustomLabel4) {
			d.intern[i] = make(map[string]string)
		}
	}
	return d
}

// str returns the string value of column c, shared if c is interned.
func (d *decoder) str(c int, b []byte) string {
	m := d.intern[c]
	if m == nil || len(b) == 0 {
		return string(b)
	}
	if s, ok := m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(m) < maxInterned {
		m[s] = s
	}
	return s
}

// set stores the non-null value v of column c in p. Lists are handled by
// the caller.
func (d *decoder) set(p *Product, c int, v parquet.Value) {
	switch d.fields[c] {
	case fID:
		p.ID = string(v.ByteArray())
	case fItemGroupID:
		p.ItemGroupID = string(v.ByteArray())
	case fTitle:
		p.Title = string(v.ByteArray())
	case fDescription:
		p.Description = string(v.ByteArray())
	case fLink:
		p.Link = string(v.ByteArray())
	case fMobileLink:
		p.MobileLink = string(v.ByteArray())
	case fImageLink:
		p.ImageLink = string(v.ByteArray())
	case fPrice:
		p.Price = v.Int64()
	case fSalePrice:
		p.SalePrice = v.Int64()
	case fShippingCost:
		p.ShippingCost = v.Int64()
	case fUpdatedAt:
		p.UpdatedAt = time.UnixMilli(v.Int64()).UTC()
	case fAvailabilityDate:
		p.AvailabilityDate = time.UnixMilli(v.Int64()).UTC()
	case fCurrency:
		p.Currency = d.str(c, v.ByteArray())
	case fAvailability:
		p.Availability = d.str(c, v.ByteArray())
	case fCondition:
		p.Condition = d.str(c, v.ByteArray())
	case fBrand:
		p.Brand = d.str(c, v.ByteArray())
	case fGTIN:
		p.GTIN = string(v.ByteArray())
	case fMPN:
		p.MPN = string(v.ByteArray())
	case fCategoryPath:
		p.CategoryPath = d.str(c, v.ByteArray())
	case fProductType:
		p.ProductType = d.str(c, v.ByteArray())
	case fShippingCountry:
		p.ShippingCountry = d.str(c, v.ByteArray())
	case fCustomLabel0:
		p.CustomLabel0 = d.str(c, v.ByteArray())
	case fCustomLabel1:
		p.CustomLabel1 = d.str(c, v.ByteArray())
	case fCustomLabel2:
		p.CustomLabel2 = d.str(c, v.ByteArray())
	case fCustomLabel3:
		p.CustomLabel3 = d.str(c, v.ByteArray())
	case fCustomLabel4:
		p.CustomLabel4 = d.str(c, v.ByteArray())
	}
}
