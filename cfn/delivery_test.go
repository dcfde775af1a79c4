package cfn

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/feedbatch/feedbatch/internal/testtool"
)

// deliveredObjects are the only object ARNs CloudFront may read.
var deliveredObjects = map[string]bool{
	"${DataBucket.Arn}/${RunPrefix}shops/*/feeds/*.gz": true,
	"${DataBucket.Arn}/${RunPrefix}shops/*/images/*":   true,
}

func resource(t *testing.T, root *yaml.Node, id, typ string) *yaml.Node {
	t.Helper()
	r := get(get(root, "Resources"), id)
	if r == nil || get(r, "Type").Value != typ {
		t.Fatalf("no %s %s", typ, id)
	}
	return get(r, "Properties")
}

func scalars(n *yaml.Node) []string {
	var out []string
	for _, x := range seq(n) {
		out = append(out, x.Value)
	}
	return out
}

// TestDelivery checks the CloudFront side of the last mile: OAC in front of
// the private bucket, HTTPS only, GET/HEAD only, the gate function on every
// behaviour, and a bucket policy that lets this distribution read feeds and
// images and nothing else.
func TestDelivery(t *testing.T) {
	_, root := statements(t)
	oac := get(resource(t, root, "DeliveryOriginAccessControl", "AWS::CloudFront::OriginAccessControl"), "OriginAccessControlConfig")
	for k, want := range map[string]string{"OriginAccessControlOriginType": "s3", "SigningBehavior": "always", "SigningProtocol": "sigv4"} {
		if v := get(oac, k); v == nil || v.Value != want {
			t.Errorf("OAC %s = %v, want %s", k, v, want)
		}
	}
	dc := get(resource(t, root, "DeliveryDistribution", "AWS::CloudFront::Distribution"), "DistributionConfig")
	origins := seq(get(dc, "Origins"))
	if len(origins) != 1 {
		t.Fatalf("%d origins, want the data bucket only", len(origins))
	}
	o := origins[0]
	if v := get(o, "DomainName"); v.Tag != "!GetAtt" || v.Value != "DataBucket.RegionalDomainName" {
		t.Errorf("origin %s %q, want the data bucket", v.Tag, v.Value)
	}
	if v := get(o, "OriginAccessControlId"); v == nil || v.Value != "DeliveryOriginAccessControl.Id" {
		t.Errorf("origin without the OAC: %v", v)
	}
	if v := get(get(o, "S3OriginConfig"), "OriginAccessIdentity"); v == nil || v.Value != "" {
		t.Error("origin uses a legacy origin access identity")
	}
	behaviours := append([]*yaml.Node{get(dc, "DefaultCacheBehavior")}, seq(get(dc, "CacheBehaviors"))...)
	var patterns []string
	for _, b := range behaviours {
		if p := get(b, "PathPattern"); p != nil {
			patterns = append(patterns, p.Value)
		}
		if v := get(b, "ViewerProtocolPolicy").Value; v != "https-only" && v != "redirect-to-https" {
			t.Errorf("behaviour %v: ViewerProtocolPolicy %s", patterns, v)
		}
		if m := scalars(get(b, "AllowedMethods")); !slices.Equal(m, []string{"GET", "HEAD"}) {
			t.Errorf("behaviour %v: methods %v, want GET HEAD", patterns, m)
		}
		fa := seq(get(b, "FunctionAssociations"))
		if len(fa) != 1 || get(fa[0], "EventType").Value != "viewer-request" ||
			get(fa[0], "FunctionARN").Value != "DeliveryGateFunction.FunctionMetadata.FunctionARN" {
			t.Errorf("behaviour %v: the gate function is not its viewer-request function", patterns)
		}
	}
	if diff := cmp.Diff([]string{"*/feeds/*.gz", "shops/*/images/*"}, patterns); diff != "" {
		t.Errorf("path patterns (-want +got):\n%s", diff)
	}

	// Bucket policy: one Allow, for this distribution, GetObject on the two prefixes.
	var allows []*yaml.Node
	for _, s := range seq(get(get(resource(t, root, "DataBucketPolicy", "AWS::S3::BucketPolicy"), "PolicyDocument"), "Statement")) {
		if get(s, "Effect").Value == "Allow" {
			allows = append(allows, s)
		}
	}
	if len(allows) != 1 {
		t.Fatalf("bucket policy has %d Allow statements, want 1 (CloudFront)", len(allows))
	}
	s := allows[0]
	if p := get(get(s, "Principal"), "Service"); p == nil || p.Value != "cloudfront.amazonaws.com" {
		t.Errorf("principal %v, want the CloudFront service", p)
	}
	if a := get(s, "Action"); a.Value != "s3:GetObject" {
		t.Errorf("action %q, want s3:GetObject", a.Value)
	}
	var res []string
	for _, r := range seq(get(s, "Resource")) {
		res = append(res, r.Value)
	}
	if len(res) != len(deliveredObjects) {
		t.Errorf("resources %v", res)
	}
	for _, r := range res {
		if !deliveredObjects[r] {
			t.Errorf("CloudFront may read %q: only feeds and images", r)
		}
		for _, never := range []string{"runs/", "catalog", "registry", "meta.json"} {
			if strings.Contains(r, never) {
				t.Errorf("CloudFront resource %q reaches %s", r, never)
			}
		}
	}
	src := get(get(get(s, "Condition"), "StringEquals"), "AWS:SourceArn")
	if src == nil || src.Tag != "!Sub" || !strings.HasSuffix(src.Value, ":distribution/${DeliveryDistribution}") {
		t.Errorf("no AWS:SourceArn condition naming this distribution: %v", src)
	}

	// The domain is an output, and the feed stage (image links) and the
	// finalize job (the report's fetch URLs) get it.
	if out := get(get(get(root, "Outputs"), "DeliveryDomain"), "Value"); out == nil || out.Value != "DeliveryDistribution.DomainName" {
		t.Errorf("output DeliveryDomain = %v", out)
	}
	defs, err := JobDefinitionsWith(map[string]string{"DeliveryDistribution.DomainName": "d1.cloudfront.net"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		got, want := d.Environment["FEEDBATCH_PUBLIC_HOST"], ""
		if d.Stage == "feed" || d.Stage == "finalize" {
			want = "d1.cloudfront.net"
		}
		if got != want {
			t.Errorf("%s: FEEDBATCH_PUBLIC_HOST = %q, want %q", d.Name, got, want)
		}
	}
}

// TestDeliveryGateFunction runs the CloudFront Function's code in node with
// the template's parameters substituted and checks which paths pass.
func TestDeliveryGateFunction(t *testing.T) {
	node := testtool.Require(t, testtool.Node)
	_, root := statements(t)
	code := get(resource(t, root, "DeliveryGateFunction", "AWS::CloudFront::Function"), "FunctionCode")
	if code.Tag != "!Sub" {
		t.Fatalf("FunctionCode tag %q, want !Sub", code.Tag)
	}
	type req struct {
		URI  string `json:"uri"`
		Auth string `json:"auth,omitempty"`
	}
	type res struct {
		Status int    `json:"status"`
		URI    string `json:"uri,omitempty"`
	}
	const feed, image = "/shops/s1/feeds/google.xml.gz", "/shops/s1/images/3fa9c2.jpg"
	private := []string{
		"/runs/2026-11-23/report.html", "/registry/shops.yaml", "/shops/s1/catalog/r.parquet",
		"/shops/s1/feeds/google.meta.json", "/shops/s1/images/index.jsonl.gz", "/shops/s1/feeds/x/google.xml.gz",
		"/shops/../runs/feeds/a.gz", "/shops/s1/images/../../runs/x.jpg", "/", "/shops/s1/feeds/.gz",
	}
	for _, tc := range []struct {
		name   string
		params map[string]string
		cases  map[req]res
	}{
		{"open", map[string]string{"RunPrefix": "", "FeedAuthorization": "", "FeedPathSecret": ""}, map[req]res{
			{URI: feed}:  {200, feed},
			{URI: image}: {200, image},
		}},
		{"prefix and basic auth", map[string]string{"RunPrefix": "prod/", "FeedAuthorization": "Z21jOnB3", "FeedPathSecret": ""}, map[req]res{
			{URI: feed}:                                   {401, ""},
			{URI: feed, Auth: "Basic Z21jOnB3"}:           {200, "/prod" + feed},
			{URI: feed, Auth: "Basic d3Jvbmc="}:           {401, ""},
			{URI: image}:                                  {200, "/prod" + image},
			{URI: "/prod" + feed, Auth: "Basic Z21jOnB3"}: {404, ""},
		}},
		{"secret segment", map[string]string{"RunPrefix": "", "FeedAuthorization": "", "FeedPathSecret": "k3y-0123456789abcdef"}, map[req]res{
			{URI: feed}:                              {404, ""},
			{URI: "/k3y-0123456789abcdef" + feed}:    {200, feed},
			{URI: "/wrong-0123456789abcd" + feed}:    {404, ""},
			{URI: image}:                             {200, image},
			{URI: "/k3y-0123456789abcdef/runs/a.gz"}: {404, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := resolver{vals: tc.params}
			js, err := r.sub(code.Value)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range private {
				tc.cases[req{URI: p, Auth: "Basic Z21jOnB3"}] = res{Status: 404}
				tc.cases[req{URI: "/k3y-0123456789abcdef" + p}] = res{Status: 404}
			}
			var reqs []req
			for q := range tc.cases {
				reqs = append(reqs, q)
			}
			in, _ := json.Marshal(reqs)
			harness := js + `
var reqs = ` + string(in) + `;
var out = reqs.map(function (q) {
  var headers = {};
  if (q.auth) { headers.authorization = {value: q.auth}; }
  var r = handler({request: {uri: q.uri, headers: headers, method: 'GET', querystring: {}}});
  if (r.statusCode) { return {status: r.statusCode}; }
  return {status: 200, uri: r.uri};
});
console.log(JSON.stringify(out));
`
			f := filepath.Join(t.TempDir(), "gate.js")
			if err := os.WriteFile(f, []byte(harness), 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := exec.CommandContext(t.Context(), node, f).CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, b)
			}
			var got []res
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("node output %q: %v", b, err)
			}
			for i, q := range reqs {
				if got[i] != tc.cases[q] {
					t.Errorf("%+v: got %+v, want %+v", q, got[i], tc.cases[q])
				}
			}
		})
	}
}
