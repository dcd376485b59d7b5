package weft

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Weft signs every step request and webhook the Standard Webhooks way:
//
//	webhook-id:        message id
//	webhook-timestamp: unix seconds
//	webhook-signature: "v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>",
//	                   one space-separated entry per signing secret (key rotation)
//
// A secret written "whsec_<base64>" stands for the decoded bytes; any other
// string for its own UTF-8 bytes.

const (
	// HeaderID, HeaderTimestamp and HeaderSignature are the signature headers.
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"

	// DefaultTolerance is the accepted clock skew, either way, between the
	// webhook-timestamp header and the verifier's clock.
	DefaultTolerance = 300 * time.Second

	// SecretsEnvVar is read by VerifyRequest when no secrets are passed:
	// secrets separated by commas and/or whitespace, as Weft's own
	// --signing-secrets / WEFT_SIGNING_SECRETS.
	SecretsEnvVar = "WEFT_SIGNING_SECRETS"

	whsecPrefix      = "whsec_"
	signatureVersion = "v1"
)

// SignatureError is why a request's signature was rejected. Reason is one of
// the reasons of the shared test vectors (test/vectors/signatures.json).
// The values below are the only instances, so errors.Is works with them.
type SignatureError struct {
	Reason string
}

func (e *SignatureError) Error() string {
	return "weft: request signature rejected: " + e.Reason
}

var (
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature is absent or empty.
	ErrMissingHeaders = &SignatureError{Reason: "missing_headers"}
	// ErrInvalidTimestamp: webhook-timestamp is not ASCII digits only.
	ErrInvalidTimestamp = &SignatureError{Reason: "invalid_timestamp"}
	// ErrStaleTimestamp: the timestamp is more than the tolerance in the past.
	ErrStaleTimestamp = &SignatureError{Reason: "stale_timestamp"}
	// ErrFutureTimestamp: the timestamp is more than the tolerance in the future.
	ErrFutureTimestamp = &SignatureError{Reason: "future_timestamp"}
	// ErrBadSignature: no v1 entry matches any secret.
	ErrBadSignature = &SignatureError{Reason: "bad_signature"}

	// ErrNoSecrets: no signing secret was given (a configuration error, not a
	// property of the request).
	ErrNoSecrets = errors.New("weft: no signing secrets configured: pass them or set " + SecretsEnvVar +
		` to the secret(s) Weft signs with (e.g. "whsec_..."; separate several with commas while rotating keys)`)
)

var (
	base64Pattern    = regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`)
	timestampPattern = regexp.MustCompile(`^[0-9]+$`)
)

// secretKey returns the HMAC key a secret stands for. The error never
// contains the secret.
func secretKey(secret string) ([]byte, error) {
	if !strings.HasPrefix(secret, whsecPrefix) {
		if secret == "" {
			return nil, errors.New("weft: signing secret is empty")
		}
		return []byte(secret), nil
	}
	encoded := secret[len(whsecPrefix):]
	unpadded := strings.TrimRight(encoded, "=")
	padded := len(unpadded) != len(encoded)
	if encoded == "" || !base64Pattern.MatchString(encoded) || len(unpadded)%4 == 1 ||
		(padded && len(encoded)%4 != 0) {
		return nil, errors.New(`weft: signing secret "whsec_…" is not valid: the part after "whsec_" must be standard base64`)
	}
	key, err := base64.RawStdEncoding.DecodeString(unpadded)
	if err != nil || len(key) == 0 {
		return nil, errors.New(`weft: signing secret "whsec_…" does not decode to a key`)
	}
	return key, nil
}

func secretKeys(secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, ErrNoSecrets
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := secretKey(s)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i, err)
		}
		keys[i] = k
	}
	return keys, nil
}

func mac(key []byte, id, timestamp string, body []byte) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Sign returns the webhook-signature header value for a message: one "v1,"
// entry per secret, in the order given, separated by spaces. It is what Weft
// sends, for tests and tools that play Weft's part. It panics if secrets is
// empty or a "whsec_" secret is not valid base64 (a programming error).
func Sign(id string, ts int64, body []byte, secrets []string) string {
	keys, err := secretKeys(secrets)
	if err != nil {
		panic(err)
	}
	timestamp := strconv.FormatInt(ts, 10)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(signatureVersion + ",")
		b.WriteString(mac(k, id, timestamp, body))
	}
	return b.String()
}

// SignHeaders sets the three signature headers on h (as Weft sends them).
// It panics like Sign.
func SignHeaders(h http.Header, id string, ts int64, body []byte, secrets []string) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(id, ts, body, secrets))
}

// headerValue finds a header case-insensitively (also in an http.Header built
// by hand with non-canonical keys) and joins repeated values with ", ", as
// net/http proxies and the Fetch API do.
func headerValue(h http.Header, name string) string {
	values := h.Values(name)
	if len(values) == 0 {
		for k, v := range h {
			if strings.EqualFold(k, name) {
				values = append(values, v...)
			}
		}
	}
	return strings.Join(values, ", ")
}

// VerifySignature checks the signature headers against the exact body bytes,
// with now as the current time and DefaultTolerance. It returns nil if any v1
// entry matches any of the secrets (in constant time), else one of
// ErrMissingHeaders, ErrInvalidTimestamp, ErrStaleTimestamp,
// ErrFutureTimestamp or ErrBadSignature, checked in that order. A
// configuration problem (no secrets, a malformed "whsec_" secret) gives
// ErrNoSecrets or another non-*SignatureError error.
func VerifySignature(headers http.Header, body []byte, secrets []string, now time.Time) error {
	keys, err := secretKeys(secrets)
	if err != nil {
		return err
	}
	id := headerValue(headers, HeaderID)
	timestamp := headerValue(headers, HeaderTimestamp)
	signature := headerValue(headers, HeaderSignature)
	if id == "" || timestamp == "" || signature == "" {
		return ErrMissingHeaders
	}

	if !timestampPattern.MatchString(timestamp) {
		return ErrInvalidTimestamp
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		// Digits only, so the only failure is a number too large for int64:
		// far in the future.
		return ErrFutureTimestamp
	}
	tolerance := int64(DefaultTolerance / time.Second)
	nowSeconds := now.Unix()
	if ts < nowSeconds-tolerance {
		return ErrStaleTimestamp
	}
	if ts > nowSeconds+tolerance {
		return ErrFutureTimestamp
	}

	// The v1 entries offered, compared as base64 text (only the canonical
	// encoding matches, as in the other Standard Webhooks libraries).
	var offered [][]byte
	for _, entry := range strings.Fields(signature) {
		entry = strings.TrimSuffix(entry, ",") // from joining repeated headers
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != signatureVersion {
			continue
		}
		offered = append(offered, []byte(sig))
	}
	if len(offered) == 0 {
		return ErrBadSignature
	}
	for _, k := range keys {
		expected := []byte(mac(k, id, timestamp, body))
		for _, candidate := range offered {
			if subtle.ConstantTimeCompare(candidate, expected) == 1 {
				return nil
			}
		}
	}
	return ErrBadSignature
}

// ParseSecrets splits a list of secrets as written in WEFT_SIGNING_SECRETS:
// separated by commas and/or whitespace, empty entries dropped.
func ParseSecrets(list string) []string {
	return strings.FieldsFunc(list, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}

// VerifyRequest reads r's body, verifies the request's signature headers
// against it (see VerifySignature; the clock is time.Now()) and returns the
// body. r.Body is replaced by a reader over the same bytes, so the handler can
// read it again. With no secrets given, it uses WEFT_SIGNING_SECRETS.
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		body, err := weft.VerifyRequest(r, secret)
//		if err != nil {
//			http.Error(w, "unauthorized", http.StatusUnauthorized)
//			return
//		}
//		...
//	}
//
// Limit the body size with http.MaxBytesReader before calling it if needed.
func VerifyRequest(r *http.Request, secrets ...string) ([]byte, error) {
	if len(secrets) == 0 {
		secrets = ParseSecrets(os.Getenv(SecretsEnvVar))
	}
	if len(secrets) == 0 {
		return nil, ErrNoSecrets
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(r.Body)
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("weft: reading the request body: %w", err)
		}
	}
	if err := VerifySignature(r.Header, body, secrets, time.Now()); err != nil {
		return nil, err
	}
	if body == nil {
		body = []byte{}
	}
	return body, nil
}
