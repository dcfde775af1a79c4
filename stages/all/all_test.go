package all_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/cfn"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/all"
	"github.com/feedbatch/feedbatch/stages/all/internal/fakestage"
	"github.com/feedbatch/feedbatch/stages/platform"
)

const module = "github.com/feedbatch/feedbatch/"

// repoRoot is the module's directory, from this package's.
var repoRoot = filepath.Join("..", "..")

// graphProblems lists what keeps each stage of g from being a complete
// stage: a job definition in the template that runs it, a stagetest
// conformance test in its package, options named after it, waits only for
// earlier stages.
func graphProblems(g []stages.Node, defs []cfn.JobDefinition) []string {
	var probs []string
	seen := map[string]bool{}
	for _, n := range g {
		name := n.Stage.Name()
		for _, a := range n.After {
			if !seen[a] {
				probs = append(probs, fmt.Sprintf("%s: waits for %q, not an earlier stage", name, a))
			}
		}
		seen[name] = true
		i := slices.IndexFunc(defs, func(d cfn.JobDefinition) bool { return d.Name == cfn.JobDefinitionName(name) })
		switch {
		case i < 0:
			probs = append(probs, fmt.Sprintf("%s: no job definition %s in cfn/template.yaml", name, cfn.JobDefinitionName(name)))
		case !slices.Equal(defs[i].Command, []string{"feedbatch", "stage", name}) || defs[i].Stage != name:
			probs = append(probs, fmt.Sprintf("%s: job definition %s runs %v (stage tag %q)", name, defs[i].Name, defs[i].Command, defs[i].Stage))
		}
		if p := conformanceProblem(n.Stage); p != "" {
			probs = append(probs, name+": "+p)
		}
		if o, ok := n.Stage.(stages.Optioner); ok {
			for _, opt := range o.Options() {
				if !strings.HasPrefix(opt.Name, name+".") {
					probs = append(probs, fmt.Sprintf("%s: option %s not named %s.<key>", name, opt.Name, name))
				}
			}
		}
	}
	return probs
}

// conformanceProblem says why the stage's package has no stagetest
// conformance test, or "".
func conformanceProblem(st stages.Stage) string {
	typ := reflect.TypeOf(st)
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	rel, ok := strings.CutPrefix(typ.PkgPath(), module)
	if !ok {
		return fmt.Sprintf("type %s is outside the module", typ)
	}
	tests, _ := filepath.Glob(filepath.Join(repoRoot, filepath.FromSlash(rel), "*_test.go"))
	for _, f := range tests {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), "stagetest.Run(t, ") {
			return ""
		}
	}
	return fmt.Sprintf("no stagetest.Run conformance test in %s", rel)
}

func jobDefinitions(t *testing.T) []cfn.JobDefinition {
	t.Helper()
	defs, err := cfn.JobDefinitions()
	if err != nil {
		t.Fatalf("parse cfn/template.yaml: %v", err)
	}
	return defs
}

// TestGraphComplete: every stage of the graph has its job definition and
// passes the stage conformance suite.
func TestGraphComplete(t *testing.T) {
	if probs := graphProblems(all.Graph(), jobDefinitions(t)); len(probs) > 0 {
		t.Errorf("incomplete stages:\n%s", strings.Join(probs, "\n"))
	}
	if got := all.Names(); !slices.Equal(got, []string{"collect", "feed", "image"}) {
		t.Errorf("Names = %v", got)
	}
}

// TestAddStage: a stage added as one package (internal/fakestage) plus one
// line is checked like the others: without its job definition the check
// fails and names it; with one (a copy of the template's resource) it
// passes, and its options are part of what a row may set.
func TestAddStage(t *testing.T) {
	defs := jobDefinitions(t)
	g := append(all.Graph(), stages.Node{Stage: fakestage.New(), After: []string{"collect"}}) // the one line

	probs := graphProblems(g, defs)
	if want := "fake: no job definition feedbatch-fake in cfn/template.yaml"; !slices.Contains(probs, want) || len(probs) != 1 {
		t.Errorf("problems = %q, want only %q", probs, want)
	}
	def := defs[slices.IndexFunc(defs, func(d cfn.JobDefinition) bool { return d.Name == "feedbatch-feed" })]
	def.Name, def.Stage, def.Command = "feedbatch-fake", "fake", []string{"feedbatch", "stage", "fake"}
	if probs := graphProblems(g, append(defs, def)); len(probs) > 0 {
		t.Errorf("with its job definition: %q", probs)
	}

	// A stage in a package without a conformance test is refused too.
	if probs := graphProblems([]stages.Node{{Stage: untested{}}}, defs); len(probs) != 2 || !strings.Contains(probs[1], "no stagetest.Run conformance test in stages/all") {
		t.Errorf("untested stage: %q", probs)
	}

	opts := all.OptionsOf(g)
	if _, ok := opts[fakestage.OptGreeting]; !ok {
		t.Errorf("the new stage's option is not declared: %v", opts.Sorted())
	}
	if _, err := opts.Parse(map[string]string{"fake.greting": "hi"}); err == nil || !strings.Contains(err.Error(), "did you mean fake.greeting") {
		t.Errorf("typo in the new stage's option: %v", err)
	}
}

// untested is a stage whose package (this one) runs no stagetest.
type untested struct{ stages.Stage }

func (untested) Name() string { return "untested" }

// TestOptions: every stage's and platform's options in one set.
func TestOptions(t *testing.T) {
	opts := all.Options()
	for _, name := range []string{"collect.max_bad_share", "feed.max_drop_share", "image.mirror", "feed.naver.default_shipping"} {
		if _, ok := opts[name]; !ok {
			t.Errorf("option %s not declared", name)
		}
	}
	for _, p := range platform.Names() {
		spec, _ := platform.Lookup(p)
		for _, o := range spec.Options {
			if _, ok := opts[o.Name]; !ok {
				t.Errorf("platform %s option %s missing", p, o.Name)
			}
		}
	}
	for _, o := range opts.Sorted() {
		if o.Doc == "" {
			t.Errorf("option %s has no doc", o.Name)
		}
	}
}
