// Package catalog is the canonical product schema: what collect writes for
// every shop, whatever shape its source has, and what feed and image read.
//
// A catalog is a zstd Parquet file at CatalogKey(shopID, runID), one row per
// product (variant), in source order with duplicate ids removed (last wins).
// Prices are integer minor units of Currency (KRW 15000 is 15000; USD 59.00
// is 5900), so no stage ever does float arithmetic on money.
package catalog

import (
	"fmt"
	"time"
)

// SchemaVersion is written in the catalog file's key/value metadata.
const SchemaVersion = "1"

// Product is one row of a catalog. Field names follow Google Merchant
// Center's attribute names, the superset the three platforms map from.
type Product struct {
	ID          string `parquet:"id" json:"id"`
	ItemGroupID string `parquet:"item_group_id,optional" json:"item_group_id,omitempty"`
	Title       string `parquet:"title" json:"title"`
	Description string `parquet:"description,optional" json:"description,omitempty"`
	Link        string `parquet:"link" json:"link"`
	MobileLink  string `parquet:"mobile_link,optional" json:"mobile_link,omitempty"`
	ImageLink   string `parquet:"image_link,optional" json:"image_link,omitempty"`
	// AdditionalImageLinks in display order, at most 10 kept.
	AdditionalImageLinks []string `parquet:"additional_image_links,list" json:"additional_image_links,omitempty"`
	// Price and SalePrice in minor units of Currency; SalePrice 0 = no sale.
	Price     int64  `parquet:"price" json:"price"`
	SalePrice int64  `parquet:"sale_price,optional" json:"sale_price,omitempty"`
	Currency  string `parquet:"currency,dict" json:"currency"` // ISO 4217, upper case
	// Availability is one of the Availability* constants.
	Availability string `parquet:"availability,dict" json:"availability"`
	// Condition is one of the Condition* constants.
	Condition string `parquet:"condition,dict" json:"condition"`
	Brand     string `parquet:"brand,optional,dict" json:"brand,omitempty"`
	GTIN      string `parquet:"gtin,optional" json:"gtin,omitempty"`
	MPN       string `parquet:"mpn,optional" json:"mpn,omitempty"`
	// CategoryPath is the shop's category path, levels joined by " > ".
	CategoryPath string `parquet:"category_path,optional,dict" json:"category_path,omitempty"`
	// ProductType is the Google product category (id or path), if known.
	ProductType string `parquet:"product_type,optional,dict" json:"product_type,omitempty"`
	// ShippingCost in minor units of Currency; -1 = unknown, 0 = free.
	ShippingCost int64 `parquet:"shipping_cost" json:"shipping_cost"`
	// ShippingCountry is ISO 3166-1 alpha-2, if the shop names one.
	ShippingCountry string `parquet:"shipping_country,optional,dict" json:"shipping_country,omitempty"`
	CustomLabel0    string `parquet:"custom_label_0,optional,dict" json:"custom_label_0,omitempty"`
	CustomLabel1    string `parquet:"custom_label_1,optional,dict" json:"custom_label_1,omitempty"`
	CustomLabel2    string `parquet:"custom_label_2,optional,dict" json:"custom_label_2,omitempty"`
	CustomLabel3    string `parquet:"custom_label_3,optional,dict" json:"custom_label_3,omitempty"`
	CustomLabel4    string `parquet:"custom_label_4,optional,dict" json:"custom_label_4,omitempty"`
	// UpdatedAt is when the source last changed the product (UTC), zero if unknown.
	UpdatedAt time.Time `parquet:"updated_at,optional,timestamp(millisecond)" json:"updated_at,omitzero"`
	// AvailabilityDate is when a preorder or backorder product becomes
	// available (UTC), zero if unknown. Google requires it for those.
	AvailabilityDate time.Time `parquet:"availability_date,optional,timestamp(millisecond)" json:"availability_date,omitzero"`
}

// Availability values (Google's enum; the other platforms map from it).
const (
	AvailabilityInStock    = "in_stock"
	AvailabilityOutOfStock = "out_of_stock"
	AvailabilityPreorder   = "preorder"
	AvailabilityBackorder  = "backorder"
)

// Condition values.
const (
	ConditionNew         = "new"
	ConditionRefurbished = "refurbished"
	ConditionUsed        = "used"
)

// CatalogKey is the store key of a shop's catalog for one run.
func CatalogKey(shopID, runID string) string {
	return fmt.Sprintf("shops/%s/catalog/%s.parquet", shopID, runID)
}

// MinorUnits is the number of decimal digits of an ISO 4217 currency's minor
// unit. Unknown currencies have 2.
func MinorUnits(currency string) int {
	switch currency {
	case "KRW", "JPY", "VND", "CLP", "ISK", "PYG", "UGX", "XAF", "XOF":
		return 0
	case "BHD", "KWD", "OMR", "JOD", "TND", "IQD", "LYD":
		return 3
	}
	return 2
}

// FormatPrice renders minor units as a decimal string without grouping:
// FormatPrice(5900, "USD") = "59.00", FormatPrice(15000, "KRW") = "15000".
func FormatPrice(minor int64, currency string) string {
	d := MinorUnits(currency)
	if d == 0 {
		return fmt.Sprintf("%d", minor)
	}
	neg := minor < 0
	if neg {
		minor = -minor
	}
	pow := int64(1)
	for range d {
		pow *= 10
	}
	s := fmt.Sprintf("%d.%0*d", minor/pow, d, minor%pow)
	if neg {
		s = "-" + s
	}
	return s
}
