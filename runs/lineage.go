package runs

import (
	"fmt"

	"github.com/feedbatch/feedbatch/engine"
)

// OriginIndexes maps the record's manifest indexes to the daily run's: the
// identity for the daily run, the groups' OriginIndexes for a re-run. It is
// the one place re-run lineage is read.
func OriginIndexes(rec *Record) (map[int64]int64, error) {
	m := map[int64]int64{}
	for _, g := range rec.Groups {
		if rec.Rerun == 0 || g.OriginIndexes == "" {
			for i := g.Offset; i < g.Offset+g.Size; i++ {
				m[i] = i
			}
			continue
		}
		idx, err := engine.ParseIndexes(g.OriginIndexes)
		if err != nil {
			return nil, fmt.Errorf("%s: group at %d: %w", rec.Key(), g.Offset, err)
		}
		for j, oi := range idx {
			m[g.Offset+int64(j)] = oi
		}
	}
	return m, nil
}

// ToOrigin maps idx, indexes of rec's manifest, to the daily run's, sorted
// as given; indexes rec does not know are dropped.
func ToOrigin(rec *Record, idx []int64) ([]int64, error) {
	if rec.Rerun == 0 {
		return idx, nil
	}
	m, err := OriginIndexes(rec)
	if err != nil {
		return nil, err
	}
	out := make([]int64, 0, len(idx))
	for _, i := range idx {
		if o, ok := m[i]; ok {
			out = append(out, o)
		}
	}
	return out, nil
}
