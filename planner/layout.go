package planner

import (
	"fmt"
	"slices"
	"strings"
)

// Shards splits n rows starting at offset into the fewest arrays of at most
// MaxArraySize, balanced so that no shard has a single row when avoidable
// (10,001 rows give 5,001 + 5,000, not 10,000 + 1). It returns [offset,
// size] pairs.
func Shards(offset, n int64) [][2]int64 {
	if n <= 0 {
		return nil
	}
	k := (n + MaxArraySize - 1) / MaxArraySize
	base, extra := n/k, n%k
	out := make([][2]int64, 0, k)
	for i := range k {
		size := base
		if i < extra {
			size++
		}
		out = append(out, [2]int64{offset, size})
		offset += size
	}
	return out
}

// Layout lays out the jobs of groups: for each group, each shard, each of
// the group's stages in graph order, one job. A job waits for the jobs of
// its stage's After stages in the same group and shard (N_TO_N for arrays,
// plain for single jobs); stages not in the group are not waited for (their
// output from an earlier run is used). namePrefix starts every job name.
func Layout(steps []Step, groups []Group, namePrefix string) ([]Job, error) {
	var jobs []Job
	for g, grp := range groups {
		for _, st := range grp.Stages {
			if !slices.ContainsFunc(steps, func(s Step) bool { return s.Name == st }) {
				return nil, fmt.Errorf("group %d: unknown stage %q", g, st)
			}
		}
		shards := Shards(grp.Offset, grp.Size)
		for s, sh := range shards {
			for _, step := range steps {
				if !slices.Contains(grp.Stages, step.Name) {
					continue
				}
				j := Job{
					Stage:  step.Name,
					Group:  g,
					Shard:  s,
					Offset: sh[0],
					Size:   sh[1],
					Name:   jobName(namePrefix, step.Name, g, len(groups), s, len(shards)),
				}
				for _, a := range step.After {
					if slices.Contains(grp.Stages, a) {
						j.DependsOn = append(j.DependsOn, jobName(namePrefix, a, g, len(groups), s, len(shards)))
					}
				}
				jobs = append(jobs, j)
			}
		}
	}
	return jobs, nil
}

// jobName is "<prefix>-<stage>[-g<group>][-s<shard>]"; the suffixes appear
// only when there is more than one group or shard.
func jobName(prefix, stage string, g, ng, s, ns int) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('-')
	b.WriteString(stage)
	if ng > 1 {
		fmt.Fprintf(&b, "-g%d", g)
	}
	if ns > 1 {
		fmt.Fprintf(&b, "-s%d", s)
	}
	return b.String()
}
