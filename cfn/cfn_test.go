package cfn

import (
	"bytes"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/batch/types"
	"github.com/feedbatch/feedbatch/internal/testtool"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

var wantRetry = RetryStrategy{
	Attempts: 5,
	EvaluateOnExit: []EvaluateOnExit{
		{Action: "RETRY", OnStatusReason: "Host EC2*"},
		{Action: "EXIT", OnExitCode: "65"},
		{Action: "RETRY", OnReason: "CannotPullContainerError:*"},
		{Action: "RETRY", OnExitCode: "75"},
		{Action: "EXIT", OnExitCode: "*"},
	},
}

func TestJobDefinitions(t *testing.T) {
	defs, err := JobDefinitions()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range defs {
		names = append(names, d.Name)
	}
	if diff := cmp.Diff([]string{"feedbatch-planner", "feedbatch-collect", "feedbatch-feed", "feedbatch-image", "feedbatch-finalize"}, names); diff != "" {
		t.Fatalf("job definitions (-want +got):\n%s", diff)
	}
	wantCmd := map[string][]string{
		"planner": {"feedbatch", "plan"},
		"collect": {"feedbatch", "stage", "collect"},
		"feed":    {"feedbatch", "stage", "feed"},
		"image":   {"feedbatch", "stage", "image"},
		// Ref::jobId: the rule's input transformer passes the event's job id.
		"finalize": {"feedbatch", "finalize", "--job-id", "Ref::jobId", "--if-finished", "--not-finished-ok"},
	}
	for _, d := range defs {
		t.Run(d.Name, func(t *testing.T) {
			if d.Name != JobDefinitionName(d.Stage) {
				t.Errorf("name %q, stage tag %q: want %q", d.Name, d.Stage, JobDefinitionName(d.Stage))
			}
			if diff := cmp.Diff(wantCmd[d.Stage], d.Command); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
			if got := d.Environment[stages.EnvRoot]; got != "s3://local/" {
				t.Errorf("%s = %q, want s3://local/", stages.EnvRoot, got)
			}
			if got := d.Environment["FEEDBATCH_LOG_FORMAT"]; got != "json" {
				t.Errorf("FEEDBATCH_LOG_FORMAT = %q, want json", got)
			}
			for k := range d.Environment {
				if strings.HasPrefix(k, "AWS_BATCH") {
					t.Errorf("environment %s: AWS_BATCH* names are reserved by AWS Batch", k)
				}
			}
			if d.Image != "local" {
				t.Errorf("image %q, want the local placeholder", d.Image)
			}
			if d.VCPUs < 1 || d.MemoryMiB < 512 {
				t.Errorf("resources %v vCPU / %d MiB", d.VCPUs, d.MemoryMiB)
			}
			// AWS Batch: timeout >= 60 s; attempts 1..10; <= 5 evaluateOnExit.
			if d.AttemptDurationSeconds < 60 {
				t.Errorf("AttemptDurationSeconds %d < 60", d.AttemptDurationSeconds)
			}
			if diff := cmp.Diff(wantRetry, d.RetryStrategy); diff != "" {
				t.Errorf("retry strategy (-want +got):\n%s", diff)
			}
			if d.LogGroup == "" || d.LogStreamPrefix != d.Name {
				t.Errorf("log configuration group %q prefix %q", d.LogGroup, d.LogStreamPrefix)
			}
		})
	}
}

// The retry strategy retries exactly the project's retryable exit code and
// never the permanent one.
func TestRetryMatchesExitContract(t *testing.T) {
	if got := wantRetry.EvaluateOnExit[3].OnExitCode; got != "75" || stages.ExitRetryable != 75 {
		t.Fatalf("retry on exit %s, stages.ExitRetryable = %d", got, stages.ExitRetryable)
	}
	if got := wantRetry.EvaluateOnExit[1]; got.OnExitCode != "65" || got.Action != "EXIT" || stages.ExitPermanent != 65 {
		t.Fatalf("entry %+v, stages.ExitPermanent = %d", got, stages.ExitPermanent)
	}
}

func TestJobDefinitionsWithParams(t *testing.T) {
	defs, err := JobDefinitionsWith(map[string]string{"DataBucket": "my-bucket", "RunPrefix": "prod/", "ImageUri": "img:1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if got := d.Environment[stages.EnvRoot]; got != "s3://my-bucket/prod/" {
			t.Errorf("%s: root %q", d.Name, got)
		}
		if d.Image != "img:1" {
			t.Errorf("%s: image %q", d.Name, d.Image)
		}
	}
}

func TestLookup(t *testing.T) {
	d, err := Lookup("feedbatch-feed")
	if err != nil || d.Stage != "feed" {
		t.Fatalf("Lookup: %+v, %v", d, err)
	}
	if _, err := Lookup("feedbatch-nope"); err == nil {
		t.Fatal("Lookup of a missing name: no error")
	}
}

func TestRegisterInput(t *testing.T) {
	d, err := Lookup("feedbatch-collect")
	if err != nil {
		t.Fatal(err)
	}
	in := d.RegisterInput(map[string]string{stages.EnvRoot: "file:///tmp/root", "EXTRA": "1"})
	if aws.ToString(in.JobDefinitionName) != "feedbatch-collect" || in.Type != types.JobDefinitionTypeContainer {
		t.Fatalf("name/type: %v %v", aws.ToString(in.JobDefinitionName), in.Type)
	}
	cp := in.ContainerProperties
	if diff := cmp.Diff([]string{"feedbatch", "stage", "collect"}, cp.Command); diff != "" {
		t.Errorf("command (-want +got):\n%s", diff)
	}
	env := map[string]string{}
	var order []string
	for _, kv := range cp.Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
		order = append(order, aws.ToString(kv.Name))
	}
	if diff := cmp.Diff(map[string]string{"EXTRA": "1", "FEEDBATCH_LOG_FORMAT": "json", stages.EnvRoot: "file:///tmp/root"}, env); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
	if !slices.IsSorted(order) {
		t.Errorf("environment not sorted: %v", order)
	}
	res := map[types.ResourceType]string{}
	for _, r := range cp.ResourceRequirements {
		res[r.Type] = aws.ToString(r.Value)
	}
	if diff := cmp.Diff(map[types.ResourceType]string{types.ResourceTypeVcpu: "2", types.ResourceTypeMemory: "4096"}, res); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	if aws.ToInt32(in.Timeout.AttemptDurationSeconds) != 7200 {
		t.Errorf("timeout %d", aws.ToInt32(in.Timeout.AttemptDurationSeconds))
	}
	rs := in.RetryStrategy
	if aws.ToInt32(rs.Attempts) != 5 || len(rs.EvaluateOnExit) != 5 {
		t.Fatalf("retry %+v", rs)
	}
	if e := rs.EvaluateOnExit[0]; e.Action != types.RetryActionRetry || aws.ToString(e.OnStatusReason) != "Host EC2*" || e.OnExitCode != nil {
		t.Errorf("first entry %+v", e)
	}
	if e := rs.EvaluateOnExit[4]; e.Action != types.RetryActionExit || aws.ToString(e.OnExitCode) != "*" {
		t.Errorf("last entry %+v", e)
	}
	// The job definition itself is not changed by the override.
	if d.Environment[stages.EnvRoot] != "s3://local/" {
		t.Errorf("RegisterInput changed the definition: %v", d.Environment)
	}
}

func TestParseErrors(t *testing.T) {
	const head = "Resources:\n  J:\n    Type: AWS::Batch::JobDefinition\n    Properties:\n      Type: container\n      JobDefinitionName: feedbatch-x\n"
	tests := []struct {
		name, src, want string
	}{
		{"not yaml", "{", "parse template"},
		{"no resources", "Parameters: {}\n", "no Resources"},
		{"no job definitions", "Resources:\n  B: {Type: AWS::S3::Bucket}\n", "no AWS::Batch::JobDefinition"},
		{"unknown ref", head + "      ContainerProperties:\n        Image: !Ref Nope\n        Command: [feedbatch]\n", `no value for "Nope"`},
		{"unknown sub", head + "      ContainerProperties:\n        Image: !Sub \"${A}-${B}\"\n        Command: [feedbatch]\n", "no value for A, B"},
		{"no command", head + "      ContainerProperties:\n        Image: x\n", "no Command"},
		{"bad memory", head + "      ContainerProperties:\n        Image: x\n        Command: [feedbatch]\n        ResourceRequirements: [{Type: MEMORY, Value: lots}]\n", "invalid syntax"},
		{"no container", head, "no ContainerProperties"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse([]byte(tc.src), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestLongFormIntrinsics(t *testing.T) {
	src := `Parameters:
  Img: {Type: String, Default: "img:2"}
Resources:
  J:
    Type: AWS::Batch::JobDefinition
    Properties:
      Type: container
      JobDefinitionName: {"Fn::Sub": "x-${Img}"}
      ContainerProperties:
        Image: {Ref: Img}
        Command: [feedbatch, {"Fn::GetAtt": [Role, Arn]}]
`
	defs, err := parse([]byte(src), map[string]string{"Role.Arn": "arn:role"})
	if err != nil {
		t.Fatal(err)
	}
	d := defs[0]
	if d.Name != "x-img:2" || d.Image != "img:2" || !slices.Equal(d.Command, []string{"feedbatch", "arn:role"}) {
		t.Fatalf("%+v", d)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(string(Template))
	f.Add("Resources: {J: {Type: AWS::Batch::JobDefinition, Properties: {Type: container}}}")
	f.Fuzz(func(t *testing.T, src string) {
		defs, err := parse([]byte(src), nil)
		if err == nil {
			for _, d := range defs {
				_ = d.RegisterInput(map[string]string{"A": "b"})
			}
		}
	})
}

// TestCfnLint runs cfn-lint on the template; CI installs it.
func TestCfnLint(t *testing.T) {
	testtool.Slow(t, "cfn-lint takes tens of seconds")
	lint := testtool.Require(t, testtool.CfnLint)
	cmd := exec.CommandContext(t.Context(), lint, "--regions", "eu-west-1", "us-east-1", "ap-northeast-2", "--", "template.yaml")
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}

// TestCommandsAreFeedbatchCommands builds the binary and runs every job
// definition's command with --help: each must be a real subcommand.
func TestCommandsAreFeedbatchCommands(t *testing.T) {
	bin := testtool.Feedbatch(t, "")
	defs, err := JobDefinitions()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		t.Run(d.Name, func(t *testing.T) {
			if d.Command[0] != "feedbatch" {
				t.Fatalf("command %q: the image puts the binary on PATH as feedbatch", d.Command)
			}
			args := append(slices.Clone(d.Command[1:]), "--help")
			cmd := exec.CommandContext(t.Context(), bin, args...)
			cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("feedbatch %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			// urfave/cli prints the app's help for an unknown subcommand
			// of a command with subcommands; insist on the command's own.
			if last := d.Command[len(d.Command)-1]; !bytes.Contains(out, []byte(last)) {
				t.Fatalf("feedbatch %s: help does not mention %q:\n%s", strings.Join(args, " "), last, out)
			}
		})
	}
}

// ---------------------------------------------------------------- IAM review

type statement struct {
	where     string
	effect    string
	actions   []string
	resources []*yaml.Node
}

// statements finds every IAM statement in the template: role policies,
// trust policies and bucket policies.
func statements(t *testing.T) ([]statement, *yaml.Node) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(Template, &doc); err != nil {
		t.Fatal(err)
	}
	var out []statement
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i].Value, n.Content[i+1]
				if k == "Statement" {
					for j, s := range seq(v) {
						st := statement{where: path + "/" + k, effect: get(s, "Effect").Value}
						if sid := get(s, "Sid"); sid != nil {
							st.where += "/" + sid.Value
						} else {
							st.where += "/" + string(rune('0'+j))
						}
						a := get(s, "Action")
						if a == nil {
							t.Errorf("%s: statement without Action (NotAction is not allowed)", st.where)
							continue
						}
						if a.Kind == yaml.ScalarNode {
							st.actions = []string{a.Value}
						}
						for _, x := range seq(a) {
							st.actions = append(st.actions, x.Value)
						}
						if r := get(s, "Resource"); r != nil {
							if r.Kind == yaml.SequenceNode && r.Tag != "!GetAtt" {
								st.resources = r.Content
							} else {
								st.resources = []*yaml.Node{r}
							}
						}
						out = append(out, st)
					}
					continue
				}
				walk(v, path+"/"+k)
			}
		case yaml.SequenceNode, yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		}
	}
	walk(&doc, "")
	return out, doc.Content[0]
}

func TestIAMReview(t *testing.T) {
	sts, root := statements(t)
	if len(sts) < 8 {
		t.Fatalf("found only %d IAM statements; the walk is broken", len(sts))
	}
	// Read-only actions that take no resource-level permissions in IAM.
	noResourceLevel := map[string]bool{"batch:DescribeJobs": true, "batch:ListJobs": true}
	jobDefARN := regexp.MustCompile(`^arn:\$\{AWS::Partition\}:batch:\$\{AWS::Region\}:\$\{AWS::AccountId\}:job-definition/feedbatch-(planner|collect|feed|image|finalize):\*$`)
	submitters := map[string]bool{}
	for _, st := range sts {
		t.Run(st.where, func(t *testing.T) {
			for _, a := range st.actions {
				if strings.Contains(a, "*") || !strings.Contains(a, ":") {
					t.Errorf("action %q: wildcard or malformed action", a)
				}
			}
			isTrust := slices.Equal(st.actions, []string{"sts:AssumeRole"})
			if isTrust {
				return
			}
			if len(st.resources) == 0 {
				t.Fatalf("statement without Resource")
			}
			for _, r := range st.resources {
				switch {
				case r.Kind == yaml.ScalarNode && r.Value == "*" && r.Tag != "!Sub":
					for _, a := range st.actions {
						if !noResourceLevel[a] {
							t.Errorf("action %s on Resource \"*\": only %v may use it", a, noResourceLevel)
						}
					}
				case r.Tag == "!GetAtt" && r.Value == "JobQueue.JobQueueArn":
					onlyActions(t, st, "batch:SubmitJob")
				case r.Tag == "!Sub" && jobDefARN.MatchString(r.Value):
					onlyActions(t, st, "batch:SubmitJob")
					submitters[strings.SplitN(st.where, "/", 4)[2]+" "+r.Value[strings.LastIndex(r.Value, "/")+1:]] = true
				case r.Tag == "!GetAtt" && r.Value == "DataBucket.Arn":
					// The bucket itself: listing only (a Deny may name more).
					for _, a := range st.actions {
						if !strings.HasPrefix(a, "s3:") || (st.effect == "Allow" && a != "s3:ListBucket") {
							t.Errorf("%s %s on the bucket ARN", st.effect, a)
						}
					}
				case r.Tag == "!Sub" && (r.Value == "${DataBucket.Arn}/*" || strings.HasPrefix(r.Value, "${DataBucket.Arn}/${RunPrefix}")):
					// Its objects under the root: object actions only
					// (which keys each role may write: TestRoleWrites).
					for _, a := range st.actions {
						if !strings.HasPrefix(a, "s3:") || (st.effect == "Allow" && strings.Contains(a, "Bucket")) {
							t.Errorf("%s %s on the bucket's objects", st.effect, a)
						}
					}
				case r.Tag == "!Sub" && deliveredObjects[r.Value]:
					// Published feeds and images: CloudFront reads them (TestDelivery).
					if !slices.Equal(st.actions, []string{"s3:GetObject"}) || st.effect != "Allow" {
						t.Errorf("%s %v on the delivered objects, want Allow s3:GetObject only", st.effect, st.actions)
					}
				case r.Tag == "!Ref" && r.Value == "NotifyTopic":
					onlyActions(t, st, "sns:Publish")
				case r.Tag == "!GetAtt" && r.Value == "JobLogGroup.Arn":
					// The report copies failed children's logs: reading only.
					onlyActions(t, st, "logs:GetLogEvents")
				case r.Tag == "!Sub" && r.Value == "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretsPrefix}*":
					onlyActions(t, st, "secretsmanager:GetSecretValue")
				case r.Tag == "!Sub" && r.Value == "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/${SecretsPrefix}*":
					onlyActions(t, st, "ssm:GetParameter")
				case r.Tag == "!Sub" && r.Value == "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*":
					onlyActions(t, st, "kms:Decrypt")
					if !strings.Contains(st.where, "DecryptViaSecretServices") {
						t.Errorf("kms:Decrypt outside the kms:ViaService statement")
					}
				default:
					t.Errorf("resource %s %q is not the bucket, its objects, the queue, a feedbatch job definition or a secret under SecretsPrefix", r.Tag, r.Value)
				}
			}
		})
	}
	// Who may submit what: the scheduler only the planner; the planner only the stages.
	want := map[string]bool{
		"SchedulerRole feedbatch-planner:*":     true,
		"PlannerRole feedbatch-collect:*":       true,
		"PlannerRole feedbatch-feed:*":          true,
		"PlannerRole feedbatch-image:*":         true,
		"FinalizeRuleRole feedbatch-finalize:*": true,
	}
	if diff := cmp.Diff(want, submitters); diff != "" {
		t.Errorf("SubmitJob grants (-want +got):\n%s", diff)
	}
	// The stage children's roles have no Batch permission at all.
	for _, st := range sts {
		for _, role := range []string{"CollectRole", "FeedRole", "ImageRole"} {
			if strings.HasPrefix(st.where, "/Resources/"+role+"/") {
				for _, a := range st.actions {
					if strings.HasPrefix(a, "batch:") {
						t.Errorf("%s grants %s", role, a)
					}
				}
			}
		}
	}
	// Managed policies: only the two AWS service-role policies Batch on EC2 needs.
	allowed := map[string]bool{
		"arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role": true,
		"arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy":    true,
	}
	for _, id := range keys(get(root, "Resources")) {
		for _, m := range seq(get(get(get(get(root, "Resources"), id), "Properties"), "ManagedPolicyArns")) {
			if !allowed[m.Value] {
				t.Errorf("%s: managed policy %q", id, m.Value)
			}
		}
	}
}

func onlyActions(t *testing.T, st statement, allowed ...string) {
	t.Helper()
	for _, a := range st.actions {
		if !slices.Contains(allowed, a) {
			t.Errorf("action %s on a Batch resource; allowed: %v", a, allowed)
		}
	}
}

// TestBucket checks the data bucket: encrypted, not public, and no lifecycle
// rule that could expire a published feed.
func TestBucket(t *testing.T) {
	_, root := statements(t)
	b := get(get(get(root, "Resources"), "DataBucket"), "Properties")
	if b == nil {
		t.Fatal("no DataBucket")
	}
	if get(b, "BucketEncryption") == nil {
		t.Error("bucket without encryption")
	}
	pab := get(b, "PublicAccessBlockConfiguration")
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if v := get(pab, k); v == nil || v.Value != "true" {
			t.Errorf("PublicAccessBlockConfiguration.%s not true", k)
		}
	}
	rules := seq(get(get(b, "LifecycleConfiguration"), "Rules"))
	if len(rules) == 0 {
		t.Fatal("no lifecycle rules")
	}
	expiresRuns := false
	for _, r := range rules {
		id := get(r, "Id").Value
		if get(r, "ExpirationInDays") == nil && get(r, "ExpirationDate") == nil {
			continue // noncurrent versions / uploads only: current feeds stay
		}
		p := get(r, "Prefix")
		if p == nil || p.Value != "${RunPrefix}runs/" {
			t.Errorf("rule %s expires current objects outside runs/ (prefix %v)", id, p)
			continue
		}
		expiresRuns = true
	}
	if !expiresRuns {
		t.Error("no rule expires run artefacts under runs/")
	}
}
