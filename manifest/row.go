// Package manifest is the day's list of shops: a Parquet file with one row per
// shop, row i = array index i. Children read only their own row over ranged
// reads; run-level facts live in the file's key/value metadata.
package manifest

// SchemaVersion is written in the file's key/value metadata ("schema_version").
const SchemaVersion = "1"

// Row is one shop of a run. Row i of the file has Index i.
type Row struct {
	// Index is the array index of this row in this manifest (0-based).
	Index int64 `parquet:"index" json:"index"`
	// ShopID is the shop's stable id; safe as a path segment.
	ShopID string `parquet:"shop_id" json:"shop_id"`
	Name   string `parquet:"name" json:"name"`

	// Source is where collect reads the catalog.
	Source Source `parquet:"source" json:"source"`

	// Platforms to publish feeds for ("google", "meta", "naver"), sorted.
	Platforms []string `parquet:"platforms,list" json:"platforms"`
	// Currency of the shop's prices (ISO 4217), used where the source has none.
	Currency string `parquet:"currency" json:"currency"`
	// Country of the shop (ISO 3166-1 alpha-2), for shipping and feed defaults.
	Country string `parquet:"country" json:"country"`

	// Image is the spec the image stage produces.
	Image ImageSpec `parquet:"image" json:"image"`

	// OutputPrefix is the store prefix of the shop's outputs ("shops/<id>/").
	OutputPrefix string `parquet:"output_prefix" json:"output_prefix"`

	// Options are per-shop stage settings, "stage.key" -> value, e.g.
	// "collect.max_bad_share" = "0.2", "feed.max_drop_share" = "0.5".
	Options map[string]string `parquet:"options" json:"options,omitempty"`

	// OriginRun and OriginIndex are set on re-run manifests: the run and the
	// index this row had there. Both are empty / -1 in a daily manifest.
	OriginRun   string `parquet:"origin_run" json:"origin_run,omitempty"`
	OriginIndex int64  `parquet:"origin_index" json:"origin_index"`
}

// Source describes a shop's catalog source.
type Source struct {
	// URL is http(s)://, s3://, file:// or postgres:// (SQL).
	URL string `parquet:"url" json:"url"`
	// Format is csv, tsv, jsonl, xml or sql; "" means detect.
	Format string `parquet:"format" json:"format,omitempty"`
	// Query is the SQL query for postgres:// sources.
	Query string `parquet:"query" json:"query,omitempty"`
	// Options are format settings: "delimiter", "encoding" (utf-8, euc-kr),
	// "quote", "strip_html", ...
	Options map[string]string `parquet:"options" json:"options,omitempty"`
	// Mapping maps canonical catalog fields to source column names; fields
	// not named here are found by common column names.
	Mapping map[string]string `parquet:"mapping" json:"mapping,omitempty"`
}

// ImageSpec is what the image stage makes of every product image.
type ImageSpec struct {
	Width      int32  `parquet:"width" json:"width"`
	Height     int32  `parquet:"height" json:"height"`
	Quality    int32  `parquet:"quality" json:"quality"`
	Background string `parquet:"background" json:"background"` // hex RGB, "ffffff"
	// Additional includes additional_image_links, not only image_link.
	Additional bool `parquet:"additional" json:"additional"`
}

// DefaultImageSpec is the spec used when the registry names none.
var DefaultImageSpec = ImageSpec{Width: 800, Height: 800, Quality: 85, Background: "ffffff"}

// CatalogRun is the run id under which this row's catalog is stored: the
// origin run for re-runs, so a re-run of feed reads what collect wrote.
func (r Row) CatalogRun(runID string) string {
	if r.OriginRun != "" {
		return r.OriginRun
	}
	return runID
}
