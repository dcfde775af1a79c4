package cfn

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// matchPattern reports whether event (decoded JSON) matches an EventBridge
// event pattern, for the subset the template uses: nested objects, arrays
// of exact values (strings, numbers, booleans, null), {"prefix": s} and
// {"exists": b}. As in EventBridge: every pattern field must match; an
// array matches when any of its values does; an event array matches when
// any of its elements does; a missing field matches only {"exists": false}.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
func matchPattern(pattern map[string]any, event any) (bool, error) {
	obj, _ := event.(map[string]any)
	for k, p := range pattern {
		v, present := obj[k]
		switch p := p.(type) {
		case map[string]any:
			ok, err := matchPattern(p, v)
			if err != nil || !ok {
				return false, err
			}
		case []any:
			ok, err := matchValues(p, v, present)
			if err != nil || !ok {
				return false, err
			}
		default:
			return false, fmt.Errorf("pattern field %q: %T is neither an object nor an array", k, p)
		}
	}
	return true, nil
}

func matchValues(pattern []any, v any, present bool) (bool, error) {
	vals := []any{v}
	if arr, ok := v.([]any); ok {
		vals = arr
	}
	for _, p := range pattern {
		for _, x := range vals {
			ok, err := matchOne(p, x, present)
			if err != nil {
				return false, err
			}
			if ok {
				return true, nil
			}
		}
	}
	return false, nil
}

func matchOne(p, v any, present bool) (bool, error) {
	switch p := p.(type) {
	case map[string]any:
		if len(p) != 1 {
			return false, fmt.Errorf("content filter %v: want one operator", p)
		}
		for op, arg := range p {
			switch op {
			case "exists":
				b, ok := arg.(bool)
				if !ok {
					return false, fmt.Errorf("exists: %v is not a boolean", arg)
				}
				_, isObj := v.(map[string]any)
				return b == (present && !isObj), nil
			case "prefix":
				s, ok := arg.(string)
				if !ok {
					return false, fmt.Errorf("prefix: %v is not a string", arg)
				}
				vs, ok := v.(string)
				return present && ok && strings.HasPrefix(vs, s), nil
			}
			return false, fmt.Errorf("content filter %q not supported by this matcher", op)
		}
	case float64:
		f, ok := v.(float64)
		return present && ok && f == p, nil
	}
	return present && p == v, nil
}

// patternValue converts a template YAML node into the JSON value
// CloudFormation sends, with refs (!GetAtt, !Ref) resolved from refs.
func patternValue(t *testing.T, n *yaml.Node, refs map[string]string) any {
	t.Helper()
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = patternValue(t, n.Content[i+1], refs)
		}
		return m
	case yaml.SequenceNode:
		var out []any
		for _, c := range n.Content {
			out = append(out, patternValue(t, c, refs))
		}
		return out
	}
	switch n.Tag {
	case "!GetAtt", "!Ref":
		v, ok := refs[n.Value]
		if !ok {
			t.Fatalf("no value for %s %s", n.Tag, n.Value)
		}
		return v
	case "!!bool":
		return n.Value == "true"
	case "!!int", "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			t.Fatal(err)
		}
		return f
	case "!!null":
		return nil
	}
	return n.Value
}

func TestMatchPattern(t *testing.T) {
	pattern := map[string]any{
		"source": []any{"aws.batch"},
		"detail": map[string]any{
			"status":  []any{"SUCCEEDED", "FAILED"},
			"jobName": []any{map[string]any{"prefix": "fb-"}},
			"size":    []any{2.0, 3.0},
			"arrayProperties": map[string]any{
				"index": []any{map[string]any{"exists": false}},
			},
		},
	}
	base := func() map[string]any {
		return map[string]any{"source": "aws.batch", "detail": map[string]any{"status": "FAILED", "jobName": "fb-x", "size": 2.0}}
	}
	for _, tc := range []struct {
		name string
		edit func(e, d map[string]any)
		want bool
	}{
		{"matches", func(e, d map[string]any) {}, true},
		{"other source", func(e, d map[string]any) { e["source"] = "aws.ecs" }, false},
		{"source missing", func(e, d map[string]any) { delete(e, "source") }, false},
		{"status not listed", func(e, d map[string]any) { d["status"] = "RUNNING" }, false},
		{"status case differs", func(e, d map[string]any) { d["status"] = "failed" }, false},
		{"prefix", func(e, d map[string]any) { d["jobName"] = "xfb-" }, false},
		{"prefix on a number", func(e, d map[string]any) { d["jobName"] = 3.0 }, false},
		{"number", func(e, d map[string]any) { d["size"] = 4.0 }, false},
		{"number as string", func(e, d map[string]any) { d["size"] = "2" }, false},
		{"event array, one element matches", func(e, d map[string]any) { d["status"] = []any{"RUNNING", "FAILED"} }, true},
		{"event array, none matches", func(e, d map[string]any) { d["status"] = []any{"RUNNING"} }, false},
		{"parent without index", func(e, d map[string]any) { d["arrayProperties"] = map[string]any{"size": 6.0} }, true},
		{"child with index", func(e, d map[string]any) { d["arrayProperties"] = map[string]any{"index": 0.0} }, false},
		{"detail not an object", func(e, d map[string]any) { e["detail"] = "x" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := base()
			tc.edit(e, e["detail"].(map[string]any))
			got, err := matchPattern(pattern, e)
			if err != nil || got != tc.want {
				t.Fatalf("match = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := matchPattern(map[string]any{"a": []any{map[string]any{"suffix": "x"}}}, map[string]any{"a": "x"}); err == nil {
		t.Error("an unsupported operator matched silently")
	}
}

const (
	testQueueARN = "arn:aws:batch:us-east-1:123456789012:job-queue/feedbatch"
	sampleEvent  = "testdata/batch-job-state-change.json"
)

func finalizeRule(t *testing.T) (*yaml.Node, map[string]any) {
	t.Helper()
	_, root := statements(t)
	rule := resource(t, root, "FinalizeRule", "AWS::Events::Rule")
	p, ok := patternValue(t, get(rule, "EventPattern"), map[string]string{"JobQueue.JobQueueArn": testQueueARN}).(map[string]any)
	if !ok {
		t.Fatal("EventPattern is not an object")
	}
	return rule, p
}

func loadSample(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(sampleEvent)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestFinalizeRulePattern matches FinalizeRule's event pattern against
// AWS's documented sample "Batch Job State Change" event and variants of
// it: only this stack's stage jobs (named fb-... by the planner, in this
// queue) that ended, and never array children or the finalize job itself
// (which would loop).
func TestFinalizeRulePattern(t *testing.T) {
	_, pattern := finalizeRule(t)
	ended := func(status, name string) func(d map[string]any) {
		return func(d map[string]any) {
			d["status"], d["jobName"], d["jobQueue"] = status, name, testQueueARN
		}
	}
	parent := map[string]any{"size": 6.0, "statusSummary": map[string]any{"SUCCEEDED": 4.0, "FAILED": 2.0}}
	for _, tc := range []struct {
		name string
		edit func(d map[string]any)
		want bool
	}{
		{"documented sample as is (RUNNABLE, other queue)", func(map[string]any) {}, false},
		{"array parent succeeded", func(d map[string]any) {
			ended("SUCCEEDED", "fb-2026-11-23-collect")(d)
			d["arrayProperties"] = parent
		}, true},
		{"array parent failed", func(d map[string]any) {
			ended("FAILED", "fb-2026-11-23-feed-s1")(d)
			d["arrayProperties"] = parent
		}, true},
		{"re-run single job failed", ended("FAILED", "fb-2026-11-23-r1-feed"), true},
		{"replanned run's parent", ended("SUCCEEDED", "fb-2026-11-23-p1-image"), true},
		{"array child", func(d map[string]any) {
			ended("FAILED", "fb-2026-11-23-feed")(d)
			d["arrayProperties"] = map[string]any{"index": 17.0}
		}, false},
		{"array child index 0", func(d map[string]any) {
			ended("SUCCEEDED", "fb-2026-11-23-feed")(d)
			d["arrayProperties"] = map[string]any{"index": 0.0}
		}, false},
		{"still running", ended("RUNNING", "fb-2026-11-23-collect"), false},
		{"runnable", ended("RUNNABLE", "fb-2026-11-23-collect"), false},
		{"the finalize job itself", ended("FAILED", "feedbatch-finalize"), false},
		{"the late check", ended("SUCCEEDED", "feedbatch-finalize-late"), false},
		{"the planner", ended("SUCCEEDED", "feedbatch-planner"), false},
		{"another stack's queue", func(d map[string]any) {
			ended("SUCCEEDED", "fb-2026-11-23-collect")(d)
			d["jobQueue"] = "arn:aws:batch:us-east-1:123456789012:job-queue/other"
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := loadSample(t)
			tc.edit(e["detail"].(map[string]any))
			got, err := matchPattern(pattern, e)
			if err != nil || got != tc.want {
				t.Fatalf("match = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	e := loadSample(t)
	ended("SUCCEEDED", "fb-x-collect")(e["detail"].(map[string]any))
	e["source"] = "aws.ecs"
	if ok, _ := matchPattern(pattern, e); ok {
		t.Error("an event of another source matched")
	}
	e["source"], e["detail-type"] = "aws.batch", "Batch Job Queue Blocked"
	if ok, _ := matchPattern(pattern, e); ok {
		t.Error("another detail-type matched")
	}
}

// TestFinalizeTarget: the rule submits the finalize job definition to this
// queue with the rule's own role, and its input transformer turns the
// sample event into the job parameter that the command references.
func TestFinalizeTarget(t *testing.T) {
	_, root := statements(t)
	rule, _ := finalizeRule(t)
	targets := seq(get(rule, "Targets"))
	if len(targets) != 1 {
		t.Fatalf("%d targets, want 1", len(targets))
	}
	tg := targets[0]
	for k, want := range map[string]string{"Arn": "!GetAtt JobQueue.JobQueueArn", "RoleArn": "!GetAtt FinalizeRuleRole.Arn"} {
		if v := get(tg, k); v == nil || v.Tag+" "+v.Value != want {
			t.Errorf("target %s = %v, want %s", k, v, want)
		}
	}
	bp := get(tg, "BatchParameters")
	if v := get(bp, "JobDefinition"); v == nil || v.Tag != "!Ref" || v.Value != "FinalizeJobDefinition" {
		t.Errorf("BatchParameters.JobDefinition = %v", v)
	}
	if v := get(bp, "JobName"); v == nil || strings.HasPrefix(v.Value, "fb-") {
		t.Errorf("finalize job name %v: must not match the rule's own prefix", v)
	}
	it := get(tg, "InputTransformer")
	paths := map[string]string{}
	for _, k := range keys(get(it, "InputPathsMap")) {
		paths[k] = get(get(it, "InputPathsMap"), k).Value
	}
	tmpl := get(it, "InputTemplate").Value
	// Apply the transformer to the documented sample (string values are
	// inserted quoted, as EventBridge does for a bare placeholder).
	e := loadSample(t)
	out := tmpl
	for name, p := range paths {
		var v any = e
		for _, seg := range strings.Split(strings.TrimPrefix(p, "$."), ".") {
			v = v.(map[string]any)[seg]
		}
		q, _ := json.Marshal(v)
		out = strings.ReplaceAll(out, "<"+name+">", string(q))
	}
	var params map[string]string
	if err := json.Unmarshal([]byte(out), &params); err != nil {
		t.Fatalf("transformed input %q: %v", out, err)
	}
	if diff := params["jobId"]; diff != "4c7599ae-0a82-49aa-ba5a-4727fcce14a8" {
		t.Errorf("parameters %v", params)
	}
	// Every parameter the transformer sets is a declared job parameter the
	// command references.
	jd, err := Lookup("feedbatch-finalize")
	if err != nil {
		t.Fatal(err)
	}
	for p := range maps.Keys(params) {
		if _, ok := jd.Parameters[p]; !ok {
			t.Errorf("parameter %s not declared on the job definition", p)
		}
		if !strings.Contains(strings.Join(jd.Command, " "), "Ref::"+p) {
			t.Errorf("command %q does not use Ref::%s", jd.Command, p)
		}
	}
	if jd.Environment["FEEDBATCH_ENGINE"] != "aws" || !strings.Contains(strings.Join(jd.Command, " "), "--if-finished") {
		t.Errorf("finalize job definition: %+v", jd)
	}

	// The topic, the optional e-mail subscription, and the deadline.
	if get(resource(t, root, "NotifyTopic", "AWS::SNS::Topic"), "KmsMasterKeyId") == nil {
		t.Error("topic not encrypted")
	}
	sub := get(get(root, "Resources"), "NotifyEmailSubscription")
	if c := get(sub, "Condition"); c == nil || c.Value != "HasNotifyEmail" {
		t.Error("e-mail subscription without its condition")
	}
	if p := get(get(sub, "Properties"), "Protocol"); p == nil || p.Value != "email" {
		t.Error("subscription protocol")
	}
	ds := resource(t, root, "DeadlineSchedule", "AWS::Scheduler::Schedule")
	if v := get(ds, "ScheduleExpression"); v.Tag != "!Sub" || !regexp.MustCompile(`^cron\(0 \$\{DeadlineHour\} \* \* \? \*\)$`).MatchString(v.Value) {
		t.Errorf("deadline expression %s %q", v.Tag, v.Value)
	}
	if v := get(ds, "ScheduleExpressionTimezone"); v == nil || v.Value != "ScheduleTimezone" {
		t.Error("deadline not in the schedule's time zone")
	}
	in := strings.ReplaceAll(get(get(ds, "Target"), "Input").Value, "${JobQueue.JobQueueArn}", testQueueARN)
	var submit struct {
		JobName, JobQueue, JobDefinition string
		ContainerOverrides               struct{ Command []string }
	}
	if err := json.Unmarshal([]byte(in), &submit); err != nil {
		t.Fatalf("deadline input %q: %v", in, err)
	}
	if submit.JobDefinition != "feedbatch-finalize" || strings.Join(submit.ContainerOverrides.Command, " ") != "feedbatch finalize --late" || strings.HasPrefix(submit.JobName, "fb-") {
		t.Errorf("deadline submits %+v", submit)
	}
	if v := get(get(ds, "Target"), "RoleArn"); v == nil || v.Value != "FinalizeRuleRole.Arn" {
		t.Errorf("deadline role %v", v)
	}
}
