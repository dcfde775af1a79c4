// Package all is the stage graph: every stage and what it waits for. Adding a
// stage is one package plus one line here.
package all

import (
	"github.com/feedbatch/feedbatch/stages"
)

// Graph returns the stages in submission order; each Node's After names
// stages earlier in the list.
func Graph() []stages.Node {
	return []stages.Node{
		// collect, feed and image land here, e.g.
		// {Stage: collect.New()},
		// {Stage: feed.New(), After: []string{"collect"}},
		// {Stage: image.New(), After: []string{"collect"}},
	}
}
