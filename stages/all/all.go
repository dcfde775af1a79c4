// Package all is the stage graph: every stage and what it waits for. Adding a
// stage is one package plus one line here (all_test.go checks that it has a
// job definition in cfn/template.yaml and a stagetest conformance test).
package all

import (
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/collect"
	"github.com/feedbatch/feedbatch/stages/feed"
	"github.com/feedbatch/feedbatch/stages/image"
	"github.com/feedbatch/feedbatch/stages/platform"
)

// Graph returns the stages in submission order; each Node's After names
// stages earlier in the list (child i waits for child i of each: N_TO_N).
//
// Image runs beside feed, not before it: feed waits only for collect, so a
// shop's feed is never held back by slow image hosts. Feed therefore reads
// the image index the image stage's last run left (often the previous
// day's), handed to it as a stages.ImageIndexLoader; the processed images'
// keys are content-addressed, so an entry stays valid for as long as the
// image is kept, and a new product's image link points at its source until
// the next run. Making feed wait for image would be `After: collect, image`.
func Graph() []stages.Node {
	return []stages.Node{
		{Stage: collect.New()},
		{Stage: &feed.Stage{Images: image.LoadImageIndex}, After: []string{"collect"}},
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

// Options are the options of every stage of the graph and every platform,
// by name: what a manifest row may set. Job.Config is parsed against them.
func Options() stages.Options {
	return OptionsOf(Graph())
}

// OptionsOf are the options declared by the stages of g (stages.Optioner)
// and by every registered platform. It panics when two declare one name.
func OptionsOf(g []stages.Node) stages.Options {
	var lists [][]stages.Option
	plats := map[string]bool{}
	for _, o := range platform.Options() {
		plats[o.Name] = true
	}
	for _, n := range g {
		if o, ok := n.Stage.(stages.Optioner); ok {
			var own []stages.Option
			for _, opt := range o.Options() {
				if !plats[opt.Name] { // a stage may list the platforms' too
					own = append(own, opt)
				}
			}
			lists = append(lists, own)
		}
	}
	lists = append(lists, platform.Options())
	return stages.NewOptions(lists...)
}
