package weft_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weftflow/weft/clients/go/weft"
)

func signedRequest(t *testing.T, body string, ts int64, secrets ...string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/api/jobs/x", strings.NewReader(body))
	weft.SignHeaders(r.Header, "msg_test", ts, []byte(body), secrets)
	return r
}

func TestVerifyRequestRestoresBody(t *testing.T) {
	const body = `{"runId":"wf_1","stepId":"a"}`
	r := signedRequest(t, body, time.Now().Unix(), testSecret)
	got, err := weft.VerifyRequest(r, "whsec_+SMAsU3vD4zms1tBqap3SaheG0YSDKp+ajhzM0bK128=", testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != body {
		t.Fatalf("body %q", got)
	}
	again, _ := io.ReadAll(r.Body)
	if string(again) != body {
		t.Fatalf("r.Body after VerifyRequest: %q", again)
	}
}

func TestVerifyRequestRejects(t *testing.T) {
	now := time.Now().Unix()
	other := "whsec_+SMAsU3vD4zms1tBqap3SaheG0YSDKp+ajhzM0bK128="

	r := signedRequest(t, `{"a":1}`, now, other)
	if _, err := weft.VerifyRequest(r, testSecret); !errors.Is(err, weft.ErrBadSignature) {
		t.Errorf("wrong secret: %v", err)
	}
	// The handler can still read the body of a rejected request.
	if b, _ := io.ReadAll(r.Body); string(b) != `{"a":1}` {
		t.Errorf("body after rejection: %q", b)
	}

	r = signedRequest(t, `{"a":1}`, now-3600, testSecret)
	if _, err := weft.VerifyRequest(r, testSecret); !errors.Is(err, weft.ErrStaleTimestamp) {
		t.Errorf("old request: %v", err)
	}

	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	if _, err := weft.VerifyRequest(r, testSecret); !errors.Is(err, weft.ErrMissingHeaders) {
		t.Errorf("unsigned request: %v", err)
	}
}

func TestVerifyRequestSecretsFromEnvironment(t *testing.T) {
	other := "whsec_+SMAsU3vD4zms1tBqap3SaheG0YSDKp+ajhzM0bK128="
	t.Setenv(weft.SecretsEnvVar, other+", "+testSecret)
	r := signedRequest(t, "{}", time.Now().Unix(), testSecret)
	if _, err := weft.VerifyRequest(r); err != nil {
		t.Fatal(err)
	}
	t.Setenv(weft.SecretsEnvVar, "")
	r = signedRequest(t, "{}", time.Now().Unix(), testSecret)
	if _, err := weft.VerifyRequest(r); !errors.Is(err, weft.ErrNoSecrets) {
		t.Fatalf("no secrets: %v", err)
	}
}

func TestVerifySignatureEdgeCases(t *testing.T) {
	now := time.Unix(1767225600, 0)
	body := []byte("{}")
	sig := weft.Sign("msg_1", now.Unix(), body, []string{testSecret})

	// Repeated signature headers are joined, as a proxy may deliver them.
	h := http.Header{}
	h.Set(weft.HeaderID, "msg_1")
	h.Set(weft.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Add(weft.HeaderSignature, "v1,bm90IGl0")
	h.Add(weft.HeaderSignature, sig)
	if err := weft.VerifySignature(h, body, []string{testSecret}, now); err != nil {
		t.Errorf("repeated headers: %v", err)
	}

	// A digits-only timestamp too large for int64 is in the future.
	h.Set(weft.HeaderTimestamp, "99999999999999999999999")
	if err := weft.VerifySignature(h, body, []string{testSecret}, now); !errors.Is(err, weft.ErrFutureTimestamp) {
		t.Errorf("huge timestamp: %v", err)
	}

	// Configuration errors are not signature errors, and never show the secret.
	var se *weft.SignatureError
	err := weft.VerifySignature(h, body, []string{"whsec_not*base64"}, now)
	if err == nil || errors.As(err, &se) || strings.Contains(err.Error(), "not*base64") {
		t.Errorf("malformed secret: %v", err)
	}
	if err := weft.VerifySignature(h, body, nil, now); !errors.Is(err, weft.ErrNoSecrets) {
		t.Errorf("no secrets: %v", err)
	}
}

func TestStepResponseJSON(t *testing.T) {
	for _, c := range []struct {
		resp weft.StepResponse
		want string
	}{
		{weft.Success(map[string]int{"n": 1}), `{"success":true,"result":{"n":1}}`},
		{weft.Success(nil), `{"success":true}`},
		{weft.Failure("busy"), `{"success":false,"error":"busy"}`},
		{weft.PermanentFailure("bad input"), `{"success":false,"error":"bad input","retryable":false}`},
	} {
		w := httptest.NewRecorder()
		if err := c.resp.Send(w); err != nil {
			t.Fatal(err)
		}
		if got := w.Body.String(); got != c.want || w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("got %d %q %q, want %q", w.Code, w.Header().Get("Content-Type"), got, c.want)
		}
	}
}
