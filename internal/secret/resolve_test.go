package secret_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/feedbatch/feedbatch/internal/s3test"
	"github.com/feedbatch/feedbatch/internal/secret"
)

func TestRefs(t *testing.T) {
	refs, err := secret.Refs("postgres://u:${env:PG}@h/d?password=${secretsmanager:db#pw}&t=${ssm:/fb/t}")
	if err != nil {
		t.Fatal(err)
	}
	want := []secret.Ref{{"env", "PG"}, {"secretsmanager", "db#pw"}, {"ssm", "/fb/t"}}
	if len(refs) != len(want) {
		t.Fatalf("got %v, want %v", refs, want)
	}
	for i := range want {
		if refs[i] != want[i] {
			t.Errorf("ref %d: got %v, want %v", i, refs[i], want[i])
		}
	}
	for _, bad := range []string{"${env:}", "${vault:x}", "${env:A", "x${ env:A}"} {
		if _, err := secret.Refs(bad); !errors.Is(err, secret.ErrReference) {
			t.Errorf("Refs(%q) = %v, want ErrReference", bad, err)
		}
	}
}

func TestResolveEnvEscapes(t *testing.T) {
	env := map[string]string{"PG": "p@ss/w:rd", "DSN": "postgres://a:b@h/d"}
	r := &secret.Resolver{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	got, err := r.Resolve(t.Context(), "postgres://u:${env:PG}@h/d")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); pw != "p@ss/w:rd" || u.Host != "h" {
		t.Errorf("got %q: password %q host %q", got, pw, u.Host)
	}
	if got, _ := r.Resolve(t.Context(), "${env:DSN}"); got != env["DSN"] {
		t.Errorf("a whole-string reference: got %q", got)
	}
	_, err = r.Resolve(t.Context(), "https://h/?k=${env:MISSING}")
	if !errors.Is(err, secret.ErrReference) || !strings.Contains(err.Error(), "MISSING") {
		t.Errorf("missing variable: %v", err)
	}
}

// TestResolveAWS resolves Secrets Manager and SSM SecureString references
// against moto's server on loopback through aws-sdk-go-v2.
func TestResolveAWS(t *testing.T) {
	srv := s3test.StartMoto(t)
	ctx := t.Context()
	sm := secretsmanager.New(secretsmanager.Options{Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), Credentials: srv.Credentials()})
	ps := ssm.New(ssm.Options{Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), Credentials: srv.Credentials()})
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("feedbatch/acme"), SecretString: aws.String("k3y+/=")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("feedbatch/db"), SecretString: aws.String(`{"username":"fb","password":"pw!"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/feedbatch/token"), Value: aws.String("t0ken"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	r := &secret.Resolver{SecretsManager: sm, SSM: ps}
	got, err := r.Resolve(ctx, "https://h/x?api_key=${secretsmanager:feedbatch/acme}&t=${ssm:/feedbatch/token}&p=${secretsmanager:feedbatch/db#password}")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://h/x?api_key=k3y%2B%2F%3D&t=t0ken&p=pw%21"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, ref := range []string{"${secretsmanager:feedbatch/none}", "${ssm:/feedbatch/none}", "${secretsmanager:feedbatch/db#nofield}"} {
		if _, err := r.Resolve(ctx, ref); err == nil {
			t.Errorf("Resolve(%s): no error", ref)
		}
	}
}
