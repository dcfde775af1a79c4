package cfn

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// iamMatch reports whether s matches an IAM Resource pattern: "*" matches
// any run of characters ("/" included), "?" any one character, everything
// else itself (case-sensitive, as S3 keys are).
func iamMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if iamMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && iamMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && iamMatch(pattern[1:], s[1:])
}

func TestIAMMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"a/*/c", "a/b/c", true},
		{"a/*/c", "a/b/x/c", true}, // "*" crosses "/"
		{"a/*/c", "a//c", true},
		{"a/*/c", "a/c", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"A*", "a", false},
	} {
		if got := iamMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("iamMatch(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

// roleObjectPatterns returns the object key patterns (relative to the
// bucket, RunPrefix substituted) that role's Allow statements grant action
// on.
func roleObjectPatterns(t *testing.T, role, action, runPrefix string) []string {
	t.Helper()
	sts, _ := statements(t)
	var out []string
	for _, st := range sts {
		if !strings.HasPrefix(st.where, "/Resources/"+role+"/") || st.effect != "Allow" || !slices.Contains(st.actions, action) {
			continue
		}
		for _, r := range st.resources {
			v := r.Value
			if r.Kind != yaml.ScalarNode {
				t.Fatalf("%s: resource %v is not a string", st.where, r)
			}
			rest, ok := strings.CutPrefix(v, "${DataBucket.Arn}/")
			if !ok {
				if v == "*" {
					t.Fatalf("%s grants %s on every resource", role, action)
				}
				continue
			}
			out = append(out, strings.ReplaceAll(rest, "${RunPrefix}", runPrefix))
		}
	}
	return out
}

// TestRoleWrites proves, for each job role, which S3 keys it may write
// (s3:PutObject) and delete (s3:DeleteObject), by evaluating the
// template's Resource patterns with IAM wildcard semantics against sample
// keys of the storage layout, at the bucket root and under a RunPrefix.
func TestRoleWrites(t *testing.T) {
	keys := map[string]string{
		"registry":       "registry/shops.yaml",
		"manifest":       "runs/2026-11-23/manifest.parquet",
		"run.json":       "runs/2026-11-23/run.json",
		"rerun manifest": "runs/2026-11-23/reruns/1/manifest.parquet",
		"rerun run.json": "runs/2026-11-23/reruns/1/run.json",
		"report":         "runs/2026-11-23/report.html",
		"summary":        "runs/2026-11-23/summary.json",
		"notified":       "runs/2026-11-23/notified.json",
		"rerun notified": "runs/2026-11-23/reruns/1/notified.json",
		"late":           "runs/2026-11-23/late.json",
		"failed log":     "runs/2026-11-23/logs/feed/17.log",
		"rerun log":      "runs/2026-11-23/logs/feed/17.rerun-1.log",
		"collect result": "runs/2026-11-23/results/collect/17.json",
		"feed result":    "runs/2026-11-23/results/feed/17.json",
		"image result":   "runs/2026-11-23/results/image/17.json",
		"rerun collect":  "runs/2026-11-23/reruns/1/results/collect/0.json",
		"rerun feed":     "runs/2026-11-23/reruns/1/results/feed/0.json",
		"rerun image":    "runs/2026-11-23/reruns/1/results/image/0.json",
		"catalog":        "shops/acme/catalog/2026-11-23.parquet",
		"source state":   "shops/acme/catalog/source.json",
		"feed":           "shops/acme/feeds/google.xml.gz",
		"feed meta":      "shops/acme/feeds/google.meta.json",
		"image":          "shops/acme/images/0a1b2c.jpg",
		"image index":    "shops/acme/images/index.jsonl.gz",
		"outside layout": "other/thing",
		"shop root":      "shops/acme/profile.json",
	}
	writes := map[string][]string{
		"PlannerRole": {"manifest", "run.json", "rerun manifest", "rerun run.json"},
		"CollectRole": {"catalog", "source state", "collect result", "rerun collect"},
		"FeedRole":    {"feed", "feed meta", "feed result", "rerun feed"},
		"ImageRole":   {"image", "image index", "image result", "rerun image"},
		// The close-out: report, summary and the notification claims.
		"FinalizeRole": {"report", "summary", "notified", "rerun notified", "late", "failed log", "rerun log"},
	}
	deletes := map[string][]string{
		"ImageRole":    {"image", "image index"},
		"FinalizeRole": {"notified", "rerun notified", "late"}, // a claim is released when the send failed
	}
	for _, prefix := range []string{"", "prod/"} {
		for _, role := range []string{"PlannerRole", "CollectRole", "FeedRole", "ImageRole", "FinalizeRole"} {
			for _, c := range []struct {
				action string
				want   []string
			}{{"s3:PutObject", writes[role]}, {"s3:DeleteObject", deletes[role]}} {
				pats := roleObjectPatterns(t, role, c.action, prefix)
				for name, key := range keys {
					allowed := slices.ContainsFunc(pats, func(p string) bool { return iamMatch(p, prefix+key) })
					if want := slices.Contains(c.want, name); allowed != want {
						t.Errorf("prefix %q: %s %s %s (%s): allowed %v, want %v (patterns %q)", prefix, role, c.action, name, prefix+key, allowed, want, pats)
					}
				}
				// Without the prefix, nothing is writable when one is set.
				if prefix != "" {
					for name, key := range keys {
						if slices.ContainsFunc(pats, func(p string) bool { return iamMatch(p, key) }) {
							t.Errorf("%s %s %s outside RunPrefix", role, c.action, name)
						}
					}
				}
			}
		}
	}
}

// TestRolesPerJobDefinition: each job definition runs with its own role,
// and only collect and the planner may read secrets.
func TestRolesPerJobDefinition(t *testing.T) {
	_, root := statements(t)
	res := get(root, "Resources")
	want := map[string]string{"PlannerJobDefinition": "PlannerRole", "CollectJobDefinition": "CollectRole", "FeedJobDefinition": "FeedRole", "ImageJobDefinition": "ImageRole", "FinalizeJobDefinition": "FinalizeRole"}
	for jd, role := range want {
		arn := get(get(get(get(res, jd), "Properties"), "ContainerProperties"), "JobRoleArn")
		if arn == nil || arn.Tag != "!GetAtt" || arn.Value != role+".Arn" {
			t.Errorf("%s: JobRoleArn %v, want !GetAtt %s.Arn", jd, arn, role)
		}
	}
	sts, _ := statements(t)
	for _, st := range sts {
		for _, a := range st.actions {
			if strings.HasPrefix(a, "secretsmanager:") || strings.HasPrefix(a, "ssm:") || strings.HasPrefix(a, "kms:") {
				if !strings.HasPrefix(st.where, "/Resources/CollectRole/") && !strings.HasPrefix(st.where, "/Resources/PlannerRole/") {
					t.Errorf("%s grants %s", st.where, a)
				}
			}
		}
	}
}
