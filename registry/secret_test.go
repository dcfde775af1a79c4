package registry_test

import (
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/registry"
)

// TestSourceCredentials: a registry names credentials (${env:...},
// ${secretsmanager:...}, ${ssm:...}) and never holds one; a plain-text
// credential is refused without being echoed.
func TestSourceCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, url, wantErr string
	}{
		{"env ref in query", "https://shop.example/f.csv?api_key=${env:FEEDBATCH_SECRET_SHOP}", ""},
		{"secretsmanager password", "postgres://fb:${secretsmanager:feedbatch/db#password}@db.example/shop", ""},
		{"ssm token", "https://shop.example/f.csv?token=${ssm:/feedbatch/acme}", ""},
		{"user without password", "postgres://reader@db.example/shop", ""},
		{"plain api key", "https://shop.example/f.csv?api_key=pl4nted", "a credential in plain text"},
		{"plain password", "postgres://fb:pl4nted@db.example/shop", "a credential in plain text"},
		{"unknown kind", "https://shop.example/f.csv?api_key=${vault:x}", "unknown kind"},
		{"unclosed", "https://shop.example/f.csv?api_key=${env:X", "bad credential reference"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := ""
			if strings.HasPrefix(tc.url, "postgres") {
				q = ", query: SELECT 1"
			}
			yaml := "shops:\n  - id: s\n    source: {url: \"" + tc.url + "\"" + q + "}\n    platforms: [google]\n"
			shops, err := registry.Parse("shops.yaml", []byte(yaml), "")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := shops[0].Source.URL; got != tc.url {
					t.Errorf("URL %q, want %q (kept, resolved by the child)", got, tc.url)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "pl4nted") {
				t.Errorf("the error echoes the credential: %v", err)
			}
		})
	}
}
