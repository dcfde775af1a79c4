// Package cfn holds the CloudFormation template of the whole AWS deployment
// (template.yaml) and reads its job definitions, so that the local engine
// registers exactly what AWS Batch runs: one source of truth for command,
// environment, resources, timeout and retry strategy.
package cfn

import (
	_ "embed"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"go.yaml.in/yaml/v3"
)

// Template is the CloudFormation template, as deployed.
//
//go:embed template.yaml
var Template []byte

// QueueName is the job queue's name in the template.
const QueueName = "feedbatch"

// JobDefinitionName is the template's job definition name for a stage
// ("collect" -> "feedbatch-collect"); the planner's is "feedbatch-planner".
func JobDefinitionName(stage string) string { return "feedbatch-" + stage }

// LocalParams are the values JobDefinitions substitutes for the template's
// parameters, pseudo parameters and resource references when no AWS stack
// exists. The local engine overrides the environment that depends on them
// (FEEDBATCH_ROOT) through RegisterInput.
var LocalParams = map[string]string{
	"ImageUri":       "local",
	"DataBucket":     "local",
	"JobLogGroup":    "/feedbatch/local",
	"AWS::Region":    "local",
	"AWS::AccountId": "000000000000",
	"AWS::Partition": "aws",
	"AWS::StackName": "feedbatch",
	// No CloudFront locally: the feed stage keeps the catalog's image links
	// unless feed.image_base_url is set.
	"DeliveryDistribution.DomainName": "",
	// No SNS topic locally: finalize notifies FEEDBATCH_NOTIFY_* if set.
	"NotifyTopic": "",
}

// EvaluateOnExit is one entry of a retry strategy; empty strings are absent
// conditions.
type EvaluateOnExit struct {
	Action         string // RETRY or EXIT
	OnStatusReason string
	OnReason       string
	OnExitCode     string
}

// RetryStrategy is a job definition's retry strategy.
type RetryStrategy struct {
	Attempts       int
	EvaluateOnExit []EvaluateOnExit
}

// JobDefinition is one AWS::Batch::JobDefinition of the template, with its
// references resolved.
type JobDefinition struct {
	// LogicalID is the template's resource name ("CollectJobDefinition").
	LogicalID string
	// Name is JobDefinitionName ("feedbatch-collect").
	Name string
	// Stage is the "stage" tag ("planner", "collect", "feed", "image").
	Stage string
	// Image is the container image.
	Image string
	// Command is the container command; Command[0] is "feedbatch".
	Command []string
	// Environment is the container environment.
	Environment map[string]string
	VCPUs       float64
	MemoryMiB   int
	// AttemptDurationSeconds is the timeout of one attempt (0: none).
	AttemptDurationSeconds int
	RetryStrategy          RetryStrategy
	// Parameters are the Ref:: placeholder defaults.
	Parameters map[string]string
	// PlatformCapabilities are EC2 or FARGATE.
	PlatformCapabilities []string
	// LogGroup and LogStreamPrefix are the awslogs options ("" if none).
	LogGroup        string
	LogStreamPrefix string
}

// JobDefinitions returns the template's job definitions, in template order,
// with references resolved from the template's parameter defaults and
// LocalParams.
func JobDefinitions() ([]JobDefinition, error) { return JobDefinitionsWith(nil) }

// JobDefinitionsWith is JobDefinitions with params overriding LocalParams and
// the template's parameter defaults (e.g. "RunPrefix": "prod/").
func JobDefinitionsWith(params map[string]string) ([]JobDefinition, error) {
	return parse(Template, params)
}

// Lookup returns the job definition called name ("feedbatch-feed").
func Lookup(name string) (JobDefinition, error) {
	defs, err := JobDefinitions()
	if err != nil {
		return JobDefinition{}, err
	}
	for _, d := range defs {
		if d.Name == name {
			return d, nil
		}
	}
	return JobDefinition{}, fmt.Errorf("cfn: no job definition %q in template.yaml", name)
}

func parse(src []byte, params map[string]string) ([]JobDefinition, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("cfn: parse template: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("cfn: template is not a mapping")
	}
	root := doc.Content[0]
	r := resolver{vals: maps.Clone(LocalParams)}
	if ps := get(root, "Parameters"); ps != nil {
		for _, name := range keys(ps) {
			if d := get(get(ps, name), "Default"); d != nil && d.Kind == yaml.ScalarNode {
				r.vals[name] = d.Value
			}
		}
	}
	maps.Copy(r.vals, params)

	res := get(root, "Resources")
	if res == nil {
		return nil, fmt.Errorf("cfn: template has no Resources")
	}
	var defs []JobDefinition
	for _, id := range keys(res) {
		node := get(res, id)
		if t := get(node, "Type"); t == nil || t.Value != "AWS::Batch::JobDefinition" {
			continue
		}
		d, err := r.jobDefinition(id, get(node, "Properties"))
		if err != nil {
			return nil, fmt.Errorf("cfn: %s: %w", id, err)
		}
		defs = append(defs, d)
	}
	if len(defs) == 0 {
		return nil, fmt.Errorf("cfn: template has no AWS::Batch::JobDefinition")
	}
	return defs, nil
}

func (r resolver) jobDefinition(id string, p *yaml.Node) (JobDefinition, error) {
	d := JobDefinition{LogicalID: id, Environment: map[string]string{}, Parameters: map[string]string{}}
	if p == nil {
		return d, fmt.Errorf("no Properties")
	}
	var err error
	str := func(n *yaml.Node, what string) string {
		if err != nil || n == nil {
			return ""
		}
		var s string
		s, err = r.str(n)
		if err != nil {
			err = fmt.Errorf("%s: %w", what, err)
		}
		return s
	}
	d.Name = str(get(p, "JobDefinitionName"), "JobDefinitionName")
	if d.Name == "" && err == nil {
		return d, fmt.Errorf("no JobDefinitionName")
	}
	if t := str(get(p, "Type"), "Type"); t != "container" && err == nil {
		return d, fmt.Errorf("job definition type %q, want container", t)
	}
	d.Stage = str(get(get(p, "Tags"), "stage"), "Tags.stage")
	for _, n := range seq(get(p, "PlatformCapabilities")) {
		d.PlatformCapabilities = append(d.PlatformCapabilities, str(n, "PlatformCapabilities"))
	}
	if ps := get(p, "Parameters"); ps != nil {
		for _, k := range keys(ps) {
			d.Parameters[k] = str(get(ps, k), "Parameters."+k)
		}
	}
	c := get(p, "ContainerProperties")
	if c == nil {
		return d, fmt.Errorf("no ContainerProperties")
	}
	d.Image = str(get(c, "Image"), "Image")
	for _, n := range seq(get(c, "Command")) {
		d.Command = append(d.Command, str(n, "Command"))
	}
	for _, n := range seq(get(c, "Environment")) {
		name := str(get(n, "Name"), "Environment.Name")
		d.Environment[name] = str(get(n, "Value"), "Environment."+name)
	}
	for _, n := range seq(get(c, "ResourceRequirements")) {
		typ, val := str(get(n, "Type"), "ResourceRequirements.Type"), str(get(n, "Value"), "ResourceRequirements.Value")
		if err != nil {
			break
		}
		switch typ {
		case "VCPU":
			d.VCPUs, err = strconv.ParseFloat(val, 64)
		case "MEMORY":
			d.MemoryMiB, err = strconv.Atoi(val)
		}
	}
	if lc := get(c, "LogConfiguration"); lc != nil {
		opts := get(lc, "Options")
		d.LogGroup = str(get(opts, "awslogs-group"), "awslogs-group")
		d.LogStreamPrefix = str(get(opts, "awslogs-stream-prefix"), "awslogs-stream-prefix")
	}
	if t := get(get(p, "Timeout"), "AttemptDurationSeconds"); t != nil && err == nil {
		d.AttemptDurationSeconds, err = strconv.Atoi(str(t, "Timeout"))
	}
	if rs := get(p, "RetryStrategy"); rs != nil {
		if a := get(rs, "Attempts"); a != nil && err == nil {
			d.RetryStrategy.Attempts, err = strconv.Atoi(str(a, "Attempts"))
		}
		for _, n := range seq(get(rs, "EvaluateOnExit")) {
			d.RetryStrategy.EvaluateOnExit = append(d.RetryStrategy.EvaluateOnExit, EvaluateOnExit{
				Action:         str(get(n, "Action"), "Action"),
				OnStatusReason: str(get(n, "OnStatusReason"), "OnStatusReason"),
				OnReason:       str(get(n, "OnReason"), "OnReason"),
				OnExitCode:     str(get(n, "OnExitCode"), "OnExitCode"),
			})
		}
	}
	if err != nil {
		return d, err
	}
	if len(d.Command) == 0 {
		return d, fmt.Errorf("no Command")
	}
	return d, nil
}

// RegisterInput is the Batch RegisterJobDefinition request for d, with
// overrideEnv replacing or adding environment variables (the local engine sets
// FEEDBATCH_ROOT to its own root). Environment entries are sorted by name.
func (d JobDefinition) RegisterInput(overrideEnv map[string]string) *batch.RegisterJobDefinitionInput {
	env := maps.Clone(d.Environment)
	if env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, overrideEnv)
	var kvs []types.KeyValuePair
	for _, k := range slices.Sorted(maps.Keys(env)) {
		kvs = append(kvs, types.KeyValuePair{Name: aws.String(k), Value: aws.String(env[k])})
	}
	cp := &types.ContainerProperties{
		Image:       aws.String(d.Image),
		Command:     slices.Clone(d.Command),
		Environment: kvs,
	}
	if d.VCPUs > 0 {
		cp.ResourceRequirements = append(cp.ResourceRequirements, types.ResourceRequirement{
			Type: types.ResourceTypeVcpu, Value: aws.String(strconv.FormatFloat(d.VCPUs, 'f', -1, 64)),
		})
	}
	if d.MemoryMiB > 0 {
		cp.ResourceRequirements = append(cp.ResourceRequirements, types.ResourceRequirement{
			Type: types.ResourceTypeMemory, Value: aws.String(strconv.Itoa(d.MemoryMiB)),
		})
	}
	in := &batch.RegisterJobDefinitionInput{
		JobDefinitionName:   aws.String(d.Name),
		Type:                types.JobDefinitionTypeContainer,
		ContainerProperties: cp,
	}
	if len(d.Parameters) > 0 {
		in.Parameters = maps.Clone(d.Parameters)
	}
	for _, pc := range d.PlatformCapabilities {
		in.PlatformCapabilities = append(in.PlatformCapabilities, types.PlatformCapability(pc))
	}
	if d.AttemptDurationSeconds > 0 {
		in.Timeout = &types.JobTimeout{AttemptDurationSeconds: aws.Int32(int32(d.AttemptDurationSeconds))}
	}
	if d.RetryStrategy.Attempts > 0 {
		rs := &types.RetryStrategy{Attempts: aws.Int32(int32(d.RetryStrategy.Attempts))}
		for _, e := range d.RetryStrategy.EvaluateOnExit {
			rs.EvaluateOnExit = append(rs.EvaluateOnExit, types.EvaluateOnExit{
				Action:         types.RetryAction(e.Action),
				OnStatusReason: optString(e.OnStatusReason),
				OnReason:       optString(e.OnReason),
				OnExitCode:     optString(e.OnExitCode),
			})
		}
		in.RetryStrategy = rs
	}
	return in
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// resolver resolves the intrinsic functions the job definitions use: !Ref,
// !Sub (string form) and !GetAtt, from a map of names to values.
type resolver struct{ vals map[string]string }

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

func (r resolver) str(n *yaml.Node) (string, error) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!Ref":
		return r.lookup(n.Value)
	case n.Kind == yaml.ScalarNode && n.Tag == "!Sub":
		return r.sub(n.Value)
	case n.Kind == yaml.ScalarNode && n.Tag == "!GetAtt":
		return r.lookup(n.Value)
	case n.Kind == yaml.SequenceNode && n.Tag == "!GetAtt" && len(n.Content) == 2:
		return r.lookup(n.Content[0].Value + "." + n.Content[1].Value)
	case n.Kind == yaml.ScalarNode && (n.Tag == "" || strings.HasPrefix(n.Tag, "!!")):
		return n.Value, nil
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		// Long form: {Ref: X}, {"Fn::Sub": "..."}, {"Fn::GetAtt": [X, Attr]}.
		v := n.Content[1]
		switch n.Content[0].Value {
		case "Ref":
			return r.lookup(v.Value)
		case "Fn::Sub":
			if v.Kind == yaml.ScalarNode {
				return r.sub(v.Value)
			}
		case "Fn::GetAtt":
			if v.Kind == yaml.SequenceNode && len(v.Content) == 2 {
				return r.lookup(v.Content[0].Value + "." + v.Content[1].Value)
			}
			return r.lookup(v.Value)
		}
	}
	return "", fmt.Errorf("line %d: cannot resolve %s value", n.Line, describe(n))
}

func (r resolver) sub(s string) (string, error) {
	var missing []string
	out := subVar.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		v, err := r.lookup(name)
		if err != nil {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("!Sub %q: no value for %s", s, strings.Join(missing, ", "))
	}
	return out, nil
}

func (r resolver) lookup(name string) (string, error) {
	if v, ok := r.vals[name]; ok {
		return v, nil
	}
	return "", fmt.Errorf("no value for %q (add it to the parameters)", name)
}

func describe(n *yaml.Node) string {
	if n.Tag != "" {
		return n.Tag
	}
	return fmt.Sprintf("node kind %d", n.Kind)
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// keys lists the keys of mapping m in document order.
func keys(m *yaml.Node) []string {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var ks []string
	for i := 0; i+1 < len(m.Content); i += 2 {
		ks = append(ks, m.Content[i].Value)
	}
	return ks
}

// seq returns the items of sequence n (nil for anything else).
func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}
