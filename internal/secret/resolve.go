package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Kinds of credential reference.
const (
	KindEnv            = "env"            // ${env:NAME}: an environment variable
	KindSecretsManager = "secretsmanager" // ${secretsmanager:NAME} or ${secretsmanager:NAME#field} (a JSON secret's field)
	KindSSM            = "ssm"            // ${ssm:/path}: an SSM parameter (SecureString decrypted)
)

// ErrReference is wrapped by the errors of Refs and Resolve for a malformed
// reference or one that names nothing. Check with errors.Is.
var ErrReference = errors.New("secret: bad credential reference")

// Ref is one credential reference of a string.
type Ref struct {
	Kind string // KindEnv, KindSecretsManager or KindSSM
	Name string // the variable, secret (with an optional #field) or parameter
}

func (r Ref) String() string { return "${" + r.Kind + ":" + r.Name + "}" }

var refPattern = regexp.MustCompile(`\$\{([a-z]+):([^{}\s]+)\}`)

func isRef(s string) bool {
	m := refPattern.FindStringSubmatchIndex(s)
	return m != nil && m[0] == 0 && m[1] == len(s)
}

// Refs returns the credential references of s, in order. A "${" that does
// not start a well-formed reference of a known kind is an error.
func Refs(s string) ([]Ref, error) {
	var refs []Ref
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			return refs, nil
		}
		rest = rest[i:]
		m := refPattern.FindStringSubmatch(rest)
		if m == nil || !strings.HasPrefix(rest, m[0]) {
			return nil, fmt.Errorf("%w: %q (want ${env:NAME}, ${secretsmanager:NAME} or ${ssm:/path})", ErrReference, cut(rest, 40))
		}
		switch m[1] {
		case KindEnv, KindSecretsManager, KindSSM:
		default:
			return nil, fmt.Errorf("%w: unknown kind %q in %s (want env, secretsmanager or ssm)", ErrReference, m[1], m[0])
		}
		refs = append(refs, Ref{Kind: m[1], Name: m[2]})
		rest = rest[len(m[0]):]
	}
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Placeholder returns s with every reference replaced by a harmless word,
// for validating the shape of a URL that holds references.
func Placeholder(s string) string { return refPattern.ReplaceAllString(s, "ref") }

// SecretsManagerAPI is the part of the Secrets Manager client Resolve uses.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SSMAPI is the part of the SSM client Resolve uses.
type SSMAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Resolver resolves credential references. The zero value reads the
// process's environment and, when a string names Secrets Manager or SSM,
// the standard AWS configuration (credential chain, AWS_REGION,
// AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_SSM). A Resolver is
// safe for concurrent use and asks AWS once per reference.
type Resolver struct {
	// LookupEnv reads ${env:NAME} (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// SecretsManager and SSM are the clients (default: built from the
	// standard AWS configuration when first needed).
	SecretsManager SecretsManagerAPI
	SSM            SSMAPI

	mu    sync.Mutex
	aws   *aws.Config
	cache map[Ref]string
}

// Resolve returns s with its references replaced by their values. A string
// that is one reference becomes the value as is; a reference inside a
// longer string (a URL) is replaced by the value percent-encoded, so a
// password with '@' or '/' keeps the URL's shape. Errors name the
// reference, never a value.
func (r *Resolver) Resolve(ctx context.Context, s string) (string, error) {
	refs, err := Refs(s)
	if err != nil || len(refs) == 0 {
		return s, err
	}
	whole := isRef(s)
	var b strings.Builder
	last := 0
	for _, m := range refPattern.FindAllStringSubmatchIndex(s, -1) {
		ref := Ref{Kind: s[m[2]:m[3]], Name: s[m[4]:m[5]]}
		v, err := r.value(ctx, ref)
		if err != nil {
			return "", err
		}
		b.WriteString(s[last:m[0]])
		if whole {
			b.WriteString(v)
		} else {
			b.WriteString(escape(v))
		}
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// escape percent-encodes everything but RFC 3986's unreserved characters,
// which is valid in a URL's userinfo, path, query and fragment alike.
func escape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func (r *Resolver) value(ctx context.Context, ref Ref) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.cache[ref]; ok {
		return v, nil
	}
	v, err := r.fetch(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("credential %s: %w", ref, err)
	}
	if r.cache == nil {
		r.cache = map[Ref]string{}
	}
	r.cache[ref] = v
	return v, nil
}

func (r *Resolver) fetch(ctx context.Context, ref Ref) (string, error) {
	switch ref.Kind {
	case KindEnv:
		lookup := r.LookupEnv
		if lookup == nil {
			lookup = os.LookupEnv
		}
		v, ok := lookup(ref.Name)
		if !ok {
			return "", fmt.Errorf("%w: environment variable %s is not set (the local engine passes FEEDBATCH_SECRET_* to its children)", ErrReference, ref.Name)
		}
		return v, nil
	case KindSecretsManager:
		if r.SecretsManager == nil {
			cfg, err := r.awsConfig(ctx)
			if err != nil {
				return "", err
			}
			r.SecretsManager = secretsmanager.NewFromConfig(cfg)
		}
		id, field, hasField := strings.Cut(ref.Name, "#")
		out, err := r.SecretsManager.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			return "", Error(err)
		}
		if out.SecretString == nil {
			return "", fmt.Errorf("%w: secret %s has no string value", ErrReference, id)
		}
		if !hasField {
			return *out.SecretString, nil
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(*out.SecretString), &fields); err != nil {
			return "", fmt.Errorf("%w: secret %s is not a JSON object", ErrReference, id)
		}
		switch f := fields[field].(type) {
		case string:
			return f, nil
		case nil:
			return "", fmt.Errorf("%w: secret %s has no field %q", ErrReference, id, field)
		default:
			return fmt.Sprint(f), nil
		}
	case KindSSM:
		if r.SSM == nil {
			cfg, err := r.awsConfig(ctx)
			if err != nil {
				return "", err
			}
			r.SSM = ssm.NewFromConfig(cfg)
		}
		out, err := r.SSM.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(ref.Name), WithDecryption: aws.Bool(true)})
		if err != nil {
			return "", Error(err)
		}
		if out.Parameter == nil || out.Parameter.Value == nil {
			return "", fmt.Errorf("%w: parameter %s has no value", ErrReference, ref.Name)
		}
		return *out.Parameter.Value, nil
	}
	return "", fmt.Errorf("%w: unknown kind %q", ErrReference, ref.Kind)
}

func (r *Resolver) awsConfig(ctx context.Context) (aws.Config, error) {
	if r.aws == nil {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return aws.Config{}, fmt.Errorf("aws config: %w", err)
		}
		r.aws = &cfg
	}
	return *r.aws, nil
}
