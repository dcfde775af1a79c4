// Package all is the stage graph: every stage and what it waits for. Adding a
// stage is one package plus one line here.
package all

import (
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/collect"
	"github.com/feedbatch/feedbatch/stages/feed"
	"github.com/feedbatch/feedbatch/stages/image"
)

// Graph returns the stages in submission order; each Node's After names
// stages earlier in the list (child i waits for child i of each: N_TO_N).
func Graph() []stages.Node {
	return []stages.Node{
		{Stage: collect.New()},
		{Stage: feed.New(), After: []string{"collect"}},
		{Stage: image.New(), After: []string{"collect"}},
	}
}

// Lookup returns the node of the stage called name.
func Lookup(name string) (stages.Node, bool) {
	for _, n := range Graph() {
		if n.Stage.Name() == name {
			return n, true
		}
	}
	return stages.Node{}, false
}

// Names lists the stage names in graph order.
func Names() []string {
	var names []string
	for _, n := range Graph() {
		names = append(names, n.Stage.Name())
	}
	return names
}
