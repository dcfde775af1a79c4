package manifest

import (
	"fmt"
	"maps"
	"slices"
)

// Subset picks the rows at indexes, in the order given, for a re-run
// manifest: the result is re-indexed 0..n-1 and each row records where it
// came from. A row without an origin gets OriginRun originRun and
// OriginIndex its old index; a row that already has an origin keeps it, so a
// re-run of a re-run still points at the day's run. An index that rows do
// not hold gives ErrIndexOutOfRange; a repeated index gives ErrInvalid.
func Subset(rows []Row, indexes []int64, originRun string) ([]Row, error) {
	byIndex := make(map[int64]int, len(rows))
	for i, r := range rows {
		byIndex[r.Index] = i
	}
	seen := make(map[int64]bool, len(indexes))
	out := make([]Row, 0, len(indexes))
	for _, idx := range indexes {
		i, ok := byIndex[idx]
		if !ok {
			return nil, fmt.Errorf("subset: index %d of %d rows: %w", idx, len(rows), ErrIndexOutOfRange)
		}
		if seen[idx] {
			return nil, fmt.Errorf("subset: %w: index %d given twice", ErrInvalid, idx)
		}
		seen[idx] = true
		r := clone(rows[i])
		if r.OriginRun == "" {
			r.OriginRun = originRun
			r.OriginIndex = r.Index
		}
		r.Index = int64(len(out))
		out = append(out, r)
	}
	return out, nil
}

// Change is one shop present in both manifests with different settings.
type Change struct {
	ShopID string `json:"shop_id"`
	// Fields names the changed fields, in schema order ("name",
	// "source.url", "platforms", ...).
	Fields []string `json:"fields"`
	Old    Row      `json:"old"`
	New    Row      `json:"new"`
}

// Diff is what changed from one manifest to another, keyed by shop id.
type Diff struct {
	// Added are the shops only in the second manifest, in its order.
	Added []Row `json:"added"`
	// Removed are the shops only in the first manifest, in its order.
	Removed []Row `json:"removed"`
	// Changed are the shops whose settings differ, in the second's order.
	Changed []Change `json:"changed"`
	// Moved counts shops in both whose index differs (settings may be equal).
	Moved int `json:"moved"`
}

// Empty reports whether the two manifests hold the same shops with the same
// settings (indexes may differ).
func (d Diff) Empty() bool { return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 }

// DiffRows compares two manifests' rows by shop id. Index and origin fields
// are not settings: a different index counts in Moved, origin is ignored.
func DiffRows(a, b []Row) Diff {
	var d Diff
	inA := make(map[string]Row, len(a))
	for _, r := range a {
		inA[r.ShopID] = r
	}
	inB := make(map[string]bool, len(b))
	for _, nr := range b {
		inB[nr.ShopID] = true
		or, ok := inA[nr.ShopID]
		if !ok {
			d.Added = append(d.Added, nr)
			continue
		}
		if or.Index != nr.Index {
			d.Moved++
		}
		if f := changedFields(or, nr); len(f) > 0 {
			d.Changed = append(d.Changed, Change{ShopID: nr.ShopID, Fields: f, Old: or, New: nr})
		}
	}
	for _, r := range a {
		if !inB[r.ShopID] {
			d.Removed = append(d.Removed, r)
		}
	}
	return d
}

func changedFields(a, b Row) []string {
	var f []string
	add := func(name string, changed bool) {
		if changed {
			f = append(f, name)
		}
	}
	add("name", a.Name != b.Name)
	add("source.url", a.Source.URL != b.Source.URL)
	add("source.format", a.Source.Format != b.Source.Format)
	add("source.query", a.Source.Query != b.Source.Query)
	add("source.options", !maps.Equal(a.Source.Options, b.Source.Options))
	add("source.mapping", !maps.Equal(a.Source.Mapping, b.Source.Mapping))
	add("platforms", !slices.Equal(a.Platforms, b.Platforms))
	add("currency", a.Currency != b.Currency)
	add("country", a.Country != b.Country)
	add("image", a.Image != b.Image)
	add("output_prefix", a.OutputPrefix != b.OutputPrefix)
	add("options", !maps.Equal(a.Options, b.Options))
	return f
}
