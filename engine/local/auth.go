package local

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// The engine authenticates every request as AWS does: an AWS Signature
// Version 4 over the request, made with the access key the engine generated
// when its directory was created. The key is kept in CredentialsName, an AWS
// shared credentials file (profile CredentialsProfile) readable by its owner
// only, that the aws CLI, boto3 and the SDKs read with
// AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE. A request whose Host is not a
// loopback name or that carries a browser's Origin is refused before it is
// read, so a web page cannot drive the engine even through DNS rebinding.
const (
	CredentialsName    = "credentials"
	CredentialsProfile = "feedbatch-local"
	// maxClockSkew is how far a request's X-Amz-Date may be from the
	// engine's clock (AWS: 5 minutes; 15 for presigned requests).
	maxClockSkew = 15 * time.Minute
)

// Credentials returns the credentials that the engine accepts.
func (e *Engine) Credentials() aws.CredentialsProvider {
	return credentials.StaticCredentialsProvider{Value: e.creds}
}

// LoadCredentials reads the credentials of the engine whose directory is
// dir (written by the first read-write Open).
func LoadCredentials(dir string) (aws.CredentialsProvider, error) {
	c, err := readCredentials(filepath.Join(dir, CredentialsName))
	if err != nil {
		return nil, err
	}
	return credentials.StaticCredentialsProvider{Value: c}, nil
}

func readCredentials(path string) (aws.Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("local engine credentials: %w", err)
	}
	defer f.Close()
	c := aws.Credentials{Source: "feedbatch local engine"}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			c.AccessKeyID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.SecretAccessKey = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return aws.Credentials{}, fmt.Errorf("local engine credentials: %w", err)
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return aws.Credentials{}, fmt.Errorf("local engine credentials: %s has no aws_access_key_id and aws_secret_access_key", filepath.Base(path))
	}
	return c, nil
}

// newCredentials makes a random access key and secret.
func newCredentials() aws.Credentials {
	b := make([]byte, 40)
	rand.Read(b)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	id := []byte("AKFB")
	for _, x := range b[:16] {
		id = append(id, alphabet[int(x)%len(alphabet)])
	}
	return aws.Credentials{AccessKeyID: string(id), SecretAccessKey: hex.EncodeToString(b[16:]), Source: "feedbatch local engine"}
}

// loadOrCreateCredentials reads dir's credentials, creating them (0600) on
// first use.
func loadOrCreateCredentials(dir string) (aws.Credentials, error) {
	path := filepath.Join(dir, CredentialsName)
	c, err := readCredentials(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return c, err
	}
	c = newCredentials()
	body := fmt.Sprintf("# Credentials of the feedbatch local engine in this directory: every request must be\n"+
		"# signed with them (AWS SigV4). export AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=%s\n"+
		"[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", path, CredentialsProfile, CredentialsProfile, c.AccessKeyID, c.SecretAccessKey)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		return readCredentials(path) // created meanwhile by another engine
	}
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("local engine credentials: %w", err)
	}
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return aws.Credentials{}, fmt.Errorf("local engine credentials: %w", err)
	}
	if err := f.Close(); err != nil {
		return aws.Credentials{}, fmt.Errorf("local engine credentials: %w", err)
	}
	return c, nil
}

// authError is a refused request: 403, with AWS's error type.
func authError(typ, msg string) error {
	return &apiError{status: http.StatusForbidden, typ: typ, msg: msg}
}

// checkOrigin refuses a request that a browser could have sent on behalf of
// a web page: any Origin header, or a Host that is not a loopback name
// (DNS rebinding).
func checkOrigin(r *http.Request, anyHost bool) error {
	if r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "" {
		return authError("AccessDeniedException", "requests from a browser are refused")
	}
	if anyHost {
		return nil
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return authError("AccessDeniedException", "the local engine answers only requests to a loopback address")
}

// verifySignature checks r's SigV4 Authorization header against creds
// (body is the request's payload).
func verifySignature(r *http.Request, body []byte, creds aws.Credentials, now time.Time) error {
	const algo = "AWS4-HMAC-SHA256"
	authz := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(authz, algo+" ")
	if !ok {
		return authError("MissingAuthenticationTokenException", "the request is not signed (AWS Signature Version 4 with the engine's credentials)")
	}
	var credential, signedHeaders, signature string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signedHeaders = v
		case "Signature":
			signature = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || signedHeaders == "" || signature == "" {
		return authError("IncompleteSignatureException", "malformed Authorization header")
	}
	if scope[0] != creds.AccessKeyID {
		return authError("UnrecognizedClientException", "the security token included in the request is invalid")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, scope[1]) {
		return authError("IncompleteSignatureException", "missing or malformed X-Amz-Date")
	}
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return authError("InvalidSignatureException", "signature expired: the request's time is too far from the engine's clock")
	}
	names := strings.Split(signedHeaders, ";")
	if !slices.Contains(names, "host") {
		return authError("IncompleteSignatureException", "the signature must cover the Host header")
	}
	var canon bytes.Buffer
	canon.WriteString(r.Method + "\n")
	canon.WriteString(canonicalPath(r.URL) + "\n")
	canon.WriteString(canonicalQuery(r.URL) + "\n")
	for _, name := range names {
		var vals []string
		if name == "host" {
			vals = []string{r.Host}
		} else {
			vals = r.Header.Values(name)
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		canon.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	canon.WriteString("\n" + signedHeaders + "\n")
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	canon.WriteString(payload)
	crSum := sha256.Sum256(canon.Bytes())
	toSign := algo + "\n" + amzDate + "\n" + strings.Join(scope[1:], "/") + "\n" + hex.EncodeToString(crSum[:])
	key := []byte("AWS4" + creds.SecretAccessKey)
	for _, s := range scope[1:] {
		key = hmacSHA256(key, s)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return authError("InvalidSignatureException", "the request signature does not match (sign with the engine's credentials)")
	}
	return nil
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// canonicalPath is the request path as sent, URI-encoded once more: every
// service but S3 signs each path segment encoded twice.
func canonicalPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if c := p[i]; c == '/' || isUnreserved(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

func canonicalQuery(u *url.URL) string {
	q := u.Query()
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, awsEscape(k)+"="+awsEscape(v))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, "&")
}

// awsEscape is SigV4's URI encoding: everything but unreserved characters.
func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; isUnreserved(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
