package local_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/batch"

	"github.com/feedbatch/feedbatch/engine/local"
)

// TestBrowserRequestRefused replays what a web page can make a browser
// send (a "simple" text/plain POST with a foreign Origin, or through a
// rebound DNS name): refused with 403 before any work; nothing registered,
// nothing run. Unsigned or wrongly signed requests are refused too.
func TestBrowserRequestRefused(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(t.TempDir(), "ran")
	eng, ep := startEngine(t, local.Config{Dir: dir, VCPUs: 2, MemoryMiB: 512})
	register := `{"jobDefinitionName":"pwn","type":"container","containerProperties":{"image":"x","command":["sh","-c","id > ` + marker + `"]}}`
	submit := `{"jobName":"pwn","jobQueue":"feedbatch","jobDefinition":"pwn"}`
	host := strings.TrimPrefix(ep, "http://")
	for _, tc := range []struct {
		name    string
		headers map[string]string
		host    string
	}{
		{"foreign origin", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, host},
		{"rebound host", map[string]string{"Content-Type": "text/plain"}, "rebind.evil.example:" + strings.Split(host, ":")[1]},
		{"fetch metadata", map[string]string{"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"}, host},
		{"unsigned", map[string]string{"Content-Type": "application/json"}, host},
		{"forged signature", map[string]string{"Content-Type": "application/json", "X-Amz-Date": "20261202T000000Z",
			"Authorization": "AWS4-HMAC-SHA256 Credential=AKFBXXXX/20261202/us-east-1/batch/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"}, host},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for path, body := range map[string]string{"/v1/registerjobdefinition": register, "/v1/submitjob": submit} {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ep+path, strings.NewReader(body))
				req.Host = tc.host
				for k, v := range tc.headers {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s: status %d, want 403", path, resp.StatusCode)
				}
			}
		})
	}
	api := local.BatchClient(ep, eng.Credentials())
	defs, err := api.DescribeJobDefinitions(t.Context(), &batch.DescribeJobDefinitionsInput{JobDefinitionName: aws.String("pwn")})
	if err != nil || len(defs.JobDefinitions) != 0 {
		t.Errorf("a refused request registered a job definition: %v %+v", err, defs)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a refused request ran a command")
	}

	// Other credentials than the engine's are refused by the SDK client too.
	wrong := local.BatchClient(ep, credentials.NewStaticCredentialsProvider(eng.Credentials().(credentials.StaticCredentialsProvider).Value.AccessKeyID, "wrong", ""))
	if _, err := wrong.DescribeJobQueues(t.Context(), &batch.DescribeJobQueuesInput{}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("wrong secret: %v, want 403", err)
	}
	// The engine's own credentials work, and are in a 0600 file.
	if _, err := api.DescribeJobQueues(t.Context(), &batch.DescribeJobQueuesInput{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, local.CredentialsName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file: %v mode %v, want 0600", err, st.Mode())
	}
	c, err := local.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.Retrieve(context.Background())
	want, _ := eng.Credentials().Retrieve(context.Background())
	if got.AccessKeyID != want.AccessKeyID || got.SecretAccessKey != want.SecretAccessKey {
		t.Error("LoadCredentials differs from the engine's credentials")
	}
}

// TestMalformedBodyNoPath: a signed request with a malformed body gets a
// 400 that does not reveal the engine's directory, on every operation.
func TestMalformedBodyNoPath(t *testing.T) {
	dir := t.TempDir()
	eng, ep := startEngine(t, local.Config{Dir: dir, VCPUs: 2, MemoryMiB: 512})
	for _, op := range []string{"/v1/submitjob", "/v1/describejobs", "/v1/listjobs", "/v1/registerjobdefinition", "/v1/canceljob", "/"} {
		for _, body := range []string{"{", `{"jobs":5}`, "[]", `{"logStreamName":{}}`, "\x00\xff"} {
			if body == `{"logStreamName":{}}` && op != "/" {
				continue // an unknown field: ignored by the Batch operations, as by AWS
			}
			service, header := "batch", map[string]string(nil)
			if op == "/" {
				service, header = "logs", map[string]string{"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Logs_20140328.GetLogEvents"}
			}
			resp := signedPost(t, eng, ep+op, service, body, header)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), dir) {
				t.Errorf("%s %q: %d %s, want 400 without the engine's path", op, body, resp.StatusCode, b)
			}
		}
	}
}

// signedPost POSTs body to url signed with the engine's credentials, as an
// SDK would.
func signedPost(t *testing.T, eng *local.Engine, url, service, body string, header map[string]string) *http.Response {
	t.Helper()
	creds, err := eng.Credentials().Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
