// Package engine holds what the planner, the re-runs and the local Batch
// engine share about jobs: array-index sets and their compact text form.
package engine

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxIndex bounds the indexes ParseIndexes accepts (100 shards of 10,000
// shops), so that a typo such as
// "0-99999999999" cannot make a caller allocate a huge slice.
const MaxIndex = 999_999

// ErrBadIndexes is returned (wrapped) by ParseIndexes for malformed input.
// Check with errors.Is.
var ErrBadIndexes = errors.New("engine: bad index list")

// ParseIndexes parses a comma-separated list of array indexes and inclusive
// ranges, such as "17,40-45", into the sorted set of distinct indexes it
// names. Spaces around items are ignored; empty items, negative numbers,
// reversed ranges and indexes above MaxIndex are errors. The empty string
// is an error too: a re-run of nothing is a mistake.
func ParseIndexes(s string) ([]int64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadIndexes)
	}
	var out []int64
	var total int64
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("%w: empty item in %q", ErrBadIndexes, s)
		}
		lo, hi, isRange := strings.Cut(item, "-")
		first, err := parseIndex(lo)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrBadIndexes, item, err)
		}
		last := first
		if isRange {
			if last, err = parseIndex(hi); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrBadIndexes, item, err)
			}
			if last < first {
				return nil, fmt.Errorf("%w: %q: range ends before it starts", ErrBadIndexes, item)
			}
		}
		total += last - first + 1
		if total > MaxIndex+1 {
			return nil, fmt.Errorf("%w: more than %d indexes", ErrBadIndexes, MaxIndex+1)
		}
		for i := first; i <= last; i++ {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func parseIndex(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("missing number")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a non-negative integer", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > MaxIndex {
		return 0, fmt.Errorf("%q is above the maximum index %d", s, MaxIndex)
	}
	return n, nil
}

// FormatIndexes writes a set of indexes in the compact form ParseIndexes
// reads: sorted, runs of consecutive indexes as "a-b" ("3,17-19"). The input
// need not be sorted or distinct; it is not modified. An empty set gives "".
func FormatIndexes(idx []int64) string {
	if len(idx) == 0 {
		return ""
	}
	s := slices.Clone(idx)
	slices.Sort(s)
	s = slices.Compact(s)
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(s[i], 10))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(s[j], 10))
		}
		i = j + 1
	}
	return b.String()
}
