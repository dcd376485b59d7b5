"""The shared signature vectors (test/vectors/signatures.json) against
weftflow.verify_request and weftflow.sign, plus the header handling that
Python web frameworks need."""

from __future__ import annotations

import email.message
import json
import time
from pathlib import Path

import pytest

from weftflow import SignatureError, parse_secret_list, sign, sign_headers, verify_request

VECTORS_PATH = Path(__file__).resolve().parents[3] / "test" / "vectors" / "signatures.json"
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
TOLERANCE = VECTORS["toleranceSeconds"]
REASONS = {"missing_headers", "invalid_timestamp", "stale_timestamp", "future_timestamp", "bad_signature"}


def test_vector_file_is_complete():
    assert TOLERANCE == 300
    assert len(VECTORS["vectors"]) >= 30
    assert len(VECTORS["signing"]) >= 5
    # Every failure reason is exercised by at least one vector.
    assert {v["reason"] for v in VECTORS["vectors"] if not v["valid"]} == REASONS


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=[v["name"] for v in VECTORS["vectors"]])
def test_verify_vector(vector):
    def verify():
        verify_request(
            vector["headers"],
            vector["body"].encode("utf-8"),
            vector["secrets"],
            tolerance_seconds=TOLERANCE,
            now=vector["nowSeconds"],
        )

    if vector["valid"]:
        assert "reason" not in vector
        verify()
    else:
        with pytest.raises(SignatureError) as info:
            verify()
        assert info.value.reason == vector["reason"]
        assert vector["reason"] in str(info.value)


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=[v["name"] for v in VECTORS["vectors"]])
def test_verify_vector_with_capitalized_headers_and_str_body(vector):
    headers = {k.title(): v for k, v in vector["headers"].items()}  # Webhook-Id, …
    try:
        verify_request(headers, vector["body"], vector["secrets"], now=vector["nowSeconds"])
        outcome = None
    except SignatureError as err:
        outcome = err.reason
    assert outcome == (None if vector["valid"] else vector["reason"])


@pytest.mark.parametrize("vector", VECTORS["signing"], ids=[v["name"] for v in VECTORS["signing"]])
def test_sign_vector(vector):
    signature = sign(vector["id"], vector["timestampSeconds"], vector["body"].encode("utf-8"), vector["secrets"])
    assert signature == vector["signature"]
    # str bodies are signed as UTF-8, and a digit-string timestamp is the same as the int.
    assert sign(vector["id"], str(vector["timestampSeconds"]), vector["body"], vector["secrets"]) == signature
    # What sign() produces, verify_request() accepts, with each secret on its own.
    headers = sign_headers(vector["id"], vector["timestampSeconds"], vector["body"], vector["secrets"])
    assert headers["webhook-signature"] == signature
    for secret in vector["secrets"]:
        verify_request(headers, vector["body"].encode("utf-8"), [secret], now=vector["timestampSeconds"])


SECRET = "whsec_zwKnYVJ3xBmQwd+ad60MLoWoJwq2jDGJWDYXun4NqSc="
BODY = b'{"stepId":"charge"}'


def _signed(now: int | None = None) -> dict[str, str]:
    return sign_headers("msg_1", int(time.time()) if now is None else now, BODY, [SECRET])


def test_default_now_is_the_current_time():
    verify_request(_signed(), BODY, [SECRET])
    with pytest.raises(SignatureError) as info:
        verify_request(_signed(int(time.time()) - 3600), BODY, [SECRET])
    assert info.value.reason == "stale_timestamp"


def test_tolerance_is_configurable():
    old = _signed(1_000_000)
    verify_request(old, BODY, [SECRET], now=1_000_000 + 1000, tolerance_seconds=1000)
    with pytest.raises(SignatureError) as info:
        verify_request(old, BODY, [SECRET], now=1_000_000 + 1001, tolerance_seconds=1000)
    assert info.value.reason == "stale_timestamp"


def test_http_server_message_headers():
    # http.server's self.headers is an email.message.Message: case-insensitive.
    msg = email.message.Message()
    for k, v in _signed().items():
        msg[k.upper()] = v
    verify_request(msg, BODY, [SECRET])


def test_header_pairs_and_bytes_keys():
    pairs = [(k.encode(), v.encode()) for k, v in _signed().items()]
    verify_request(pairs, BODY, [SECRET])


def test_repeated_signature_headers_are_joined():
    headers = _signed()
    good = headers["webhook-signature"]
    msg = email.message.Message()
    msg["webhook-id"] = headers["webhook-id"]
    msg["webhook-timestamp"] = headers["webhook-timestamp"]
    msg["webhook-signature"] = "v1,bm90IGl0"
    msg["webhook-signature"] = good
    verify_request(msg, BODY, [SECRET])


def test_secrets_as_one_comma_separated_string():
    assert parse_secret_list(f" other-secret, {SECRET}\n") == ["other-secret", SECRET]
    verify_request(_signed(), BODY, f"other-secret,{SECRET}")


def test_configuration_errors_are_value_errors_not_signature_errors():
    with pytest.raises(ValueError, match="no signing secrets"):
        verify_request(_signed(), BODY, [])
    with pytest.raises(ValueError, match="whsec_"):
        verify_request(_signed(), BODY, ["whsec_not*base64"])
    with pytest.raises(ValueError):
        sign("", 1, BODY, [SECRET])
    with pytest.raises(ValueError):
        sign("msg", -1, BODY, [SECRET])


def test_whsec_without_padding_is_the_same_key():
    assert sign("m", 1, BODY, [SECRET.rstrip("=")]) == sign("m", 1, BODY, [SECRET])
