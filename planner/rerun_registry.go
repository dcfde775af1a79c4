package planner

import (
	"errors"
	"fmt"

	"github.com/feedbatch/feedbatch/manifest"
)

// ErrNotInRegistry: a shop chosen for a re-run from the registry is no
// longer in the registry. Errors will be checked using errors.Is.
var ErrNotInRegistry = errors.New("planner: shop not in the registry")

// fromCurrent gives each row of a re-run's subset the settings of the
// same shop in current (the registry now, by shop id), keeping the row's
// index and origin (the re-run's results stay the day's run's). It returns
// what changed per shop versus the origin row.
func fromCurrent(sub []manifest.Row, current map[string]manifest.Row) ([]manifest.Row, []manifest.Change, error) {
	out := make([]manifest.Row, len(sub))
	var changes []manifest.Change
	for i, r := range sub {
		cur, ok := current[r.ShopID]
		if !ok {
			return nil, nil, fmt.Errorf("shop %s (index %d): %w", r.ShopID, r.OriginIndex, ErrNotInRegistry)
		}
		cur.Index, cur.OriginRun, cur.OriginIndex = r.Index, r.OriginRun, r.OriginIndex
		if d := manifest.DiffRows([]manifest.Row{r}, []manifest.Row{cur}); len(d.Changed) > 0 {
			changes = append(changes, d.Changed[0])
		}
		out[i] = cur
	}
	return out, changes, nil
}
