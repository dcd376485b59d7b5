package weft_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weftflow/weft/clients/go/weft"
)

// The shared Standard Webhooks vectors (test/vectors/signatures.json).
type vectorFile struct {
	ToleranceSeconds int64 `json:"toleranceSeconds"`
	Vectors          []struct {
		Name       string            `json:"name"`
		Secrets    []string          `json:"secrets"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
		NowSeconds int64             `json:"nowSeconds"`
		Valid      bool              `json:"valid"`
		Reason     string            `json:"reason"`
	} `json:"vectors"`
	Signing []struct {
		Name             string   `json:"name"`
		Secrets          []string `json:"secrets"`
		ID               string   `json:"id"`
		TimestampSeconds int64    `json:"timestampSeconds"`
		Body             string   `json:"body"`
		Signature        string   `json:"signature"`
	} `json:"signing"`
}

func loadVectors(t *testing.T) *vectorFile {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "test", "vectors", "signatures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("signatures.json: %v", err)
	}
	if len(f.Vectors) == 0 || len(f.Signing) == 0 {
		t.Fatal("signatures.json has no vectors")
	}
	return &f
}

var reasons = map[string]error{
	"missing_headers":   weft.ErrMissingHeaders,
	"invalid_timestamp": weft.ErrInvalidTimestamp,
	"stale_timestamp":   weft.ErrStaleTimestamp,
	"future_timestamp":  weft.ErrFutureTimestamp,
	"bad_signature":     weft.ErrBadSignature,
}

func TestVerificationVectors(t *testing.T) {
	f := loadVectors(t)
	if f.ToleranceSeconds != int64(weft.DefaultTolerance/time.Second) {
		t.Fatalf("vectors use a %d s tolerance, DefaultTolerance is %v", f.ToleranceSeconds, weft.DefaultTolerance)
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			// Both the canonical form (as net/http fills r.Header) and the
			// lower-case keys of the vectors, set by hand.
			canonical := http.Header{}
			raw := http.Header{}
			for k, val := range v.Headers {
				canonical.Set(k, val)
				raw[k] = []string{val}
			}
			now := time.Unix(v.NowSeconds, 0)
			for name, h := range map[string]http.Header{"canonical": canonical, "raw": raw} {
				err := weft.VerifySignature(h, []byte(v.Body), v.Secrets, now)
				if v.Valid {
					if err != nil {
						t.Errorf("%s headers: want valid, got %v", name, err)
					}
					continue
				}
				want, ok := reasons[v.Reason]
				if !ok {
					t.Fatalf("unknown reason %q in the vectors", v.Reason)
				}
				if !errors.Is(err, want) {
					t.Errorf("%s headers: want %v, got %v", name, want, err)
				}
				var se *weft.SignatureError
				if !errors.As(err, &se) || se.Reason != v.Reason {
					t.Errorf("%s headers: want reason %q, got %v", name, v.Reason, err)
				}
			}
		})
	}
}

func TestSigningVectors(t *testing.T) {
	f := loadVectors(t)
	for _, v := range f.Signing {
		t.Run(v.Name, func(t *testing.T) {
			got := weft.Sign(v.ID, v.TimestampSeconds, []byte(v.Body), v.Secrets)
			if got != v.Signature {
				t.Fatalf("Sign:\n got %q\nwant %q", got, v.Signature)
			}
			// What Sign produces, VerifySignature accepts (with any one of the secrets).
			for _, s := range v.Secrets {
				h := http.Header{}
				weft.SignHeaders(h, v.ID, v.TimestampSeconds, []byte(v.Body), v.Secrets)
				if err := weft.VerifySignature(h, []byte(v.Body), []string{s}, time.Unix(v.TimestampSeconds, 0)); err != nil {
					t.Errorf("round trip with one secret: %v", err)
				}
			}
		})
	}
}
