#!/usr/bin/env python3
"""Generate test/vectors/signatures.json: shared Standard Webhooks test vectors.

This is an independent implementation (Python stdlib hmac/hashlib/base64 only),
deliberately not sharing code with the TypeScript signer, so the TypeScript, Go
and Python helpers are all checked against the same outside reference. Output
is deterministic; regenerate with:

    python3 test/vectors/generate_signatures.py

Scheme: webhook-signature is a space-separated list of
"v1,<base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))>", one per secret.
A secret "whsec_<base64>" stands for the decoded bytes; any other string for
its UTF-8 bytes.
"""

import base64
import hashlib
import hmac
import json
import os
import re

TOLERANCE_SECONDS = 300

# Fixed secrets (32 bytes each: sha256 of a label), so the output never changes.
SECRET_A = "whsec_zwKnYVJ3xBmQwd+ad60MLoWoJwq2jDGJWDYXun4NqSc="  # "current" key
SECRET_B = "whsec_+SMAsU3vD4zms1tBqap3SaheG0YSDKp+ajhzM0bK128="  # "new" key during rotation
SECRET_C = "whsec_MOUk+EVVCDejoHWA8BZbVhAGKPyJ7eafSVpvaj23N44="  # unrelated key
RAW_SECRET = "weft raw secret: not base64, used as UTF-8 bytes"
# Looks like base64 but has no whsec_ prefix, so it is used as its UTF-8 bytes.
RAW_BASE64_LOOKING = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# The published Standard Webhooks example; its signature is hard-coded here (not
# computed) so this script is itself checked against the spec.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TS = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

NOW = 1767225600  # 2026-01-01T00:00:00Z
BODY = '{"workflowId":"wf_01","runId":"run_42","step":"charge-card","input":{"amount":1250,"currency":"EUR"}}'
UNICODE_BODY = '{"name":"Zoë Ångström","city":"東京","note":"emoji 🎉 and a “quote”","rtl":"שלום"}'


def key_bytes(secret):
    if secret.startswith("whsec_"):
        key = base64.b64decode(secret[len("whsec_"):], validate=True)
        if not key:
            raise ValueError("empty key")
        return key
    return secret.encode("utf-8")


def sign_one(secret, msg_id, timestamp, body):
    message = f"{msg_id}.{timestamp}.".encode("utf-8") + body.encode("utf-8")
    digest = hmac.new(key_bytes(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign(secrets, msg_id, timestamp, body):
    return " ".join(sign_one(s, msg_id, timestamp, body) for s in secrets)


def verify(secrets, headers, body, now_seconds, tolerance=TOLERANCE_SECONDS):
    """Reference verifier, used only to check the expectations written below."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sig = headers.get("webhook-signature")
    if not msg_id or not ts or not sig:
        return "missing_headers"
    if not re.fullmatch(r"[0-9]+", ts):
        return "invalid_timestamp"
    if int(ts) < now_seconds - tolerance:
        return "stale_timestamp"
    if int(ts) > now_seconds + tolerance:
        return "future_timestamp"
    offered = []
    for entry in sig.split():
        version, sep, value = entry.partition(",")
        if sep and version == "v1":
            offered.append(value.encode("ascii", "replace"))
    for secret in secrets:
        expected = sign_one(secret, msg_id, ts, body)[len("v1,"):].encode("ascii")
        if any(hmac.compare_digest(expected, o) for o in offered):
            return None
    return "bad_signature"


vectors = []


def vector(name, secrets, headers, body, now_seconds, reason=None, note=None):
    v = {"name": name}
    if note:
        v["note"] = note
    v.update({
        "secrets": secrets,
        "headers": headers,
        "body": body,
        "nowSeconds": now_seconds,
        "valid": reason is None,
    })
    if reason is not None:
        v["reason"] = reason
    got = verify(secrets, headers, body, now_seconds)
    assert got == reason, f"{name}: reference verifier says {got!r}, expected {reason!r}"
    vectors.append(v)


def signed_headers(signing_secrets, msg_id, ts, body):
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(signing_secrets, msg_id, ts, body),
    }


assert sign([SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE, "spec example mismatch"

# --- valid ---------------------------------------------------------------
vector("spec_example", [SPEC_SECRET],
       {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TS), "webhook-signature": SPEC_SIGNATURE},
       SPEC_BODY, SPEC_TS + 10,
       note="The published Standard Webhooks example; signature taken from the spec, not computed.")
vector("valid_whsec_secret", [SECRET_A], signed_headers([SECRET_A], "msg_weft_0001", NOW, BODY), BODY, NOW)
vector("valid_raw_string_secret", [RAW_SECRET],
       signed_headers([RAW_SECRET], "msg_weft_0002", NOW, BODY), BODY, NOW)
vector("valid_raw_secret_that_looks_like_base64", [RAW_BASE64_LOOKING],
       signed_headers([RAW_BASE64_LOOKING], "msg_weft_0003", NOW, BODY), BODY, NOW,
       note="No whsec_ prefix: the key is the UTF-8 bytes of the string, not its base64 decoding.")
vector("valid_unicode_body", [SECRET_A],
       signed_headers([SECRET_A], "msg_weft_0004", NOW, UNICODE_BODY), UNICODE_BODY, NOW,
       note="The body is signed as UTF-8 bytes (includes a character outside the BMP).")
vector("valid_empty_body", [SECRET_A], signed_headers([SECRET_A], "msg_weft_0005", NOW, ""), "", NOW)
vector("valid_body_with_dots_and_newline", [SECRET_A],
       signed_headers([SECRET_A], "msg.weft.0006", NOW, "a.b.c\n"), "a.b.c\n", NOW)
vector("valid_timestamp_exactly_tolerance_old", [SECRET_A],
       signed_headers([SECRET_A], "msg_weft_0007", NOW - TOLERANCE_SECONDS, BODY), BODY, NOW)
vector("valid_timestamp_exactly_tolerance_ahead", [SECRET_A],
       signed_headers([SECRET_A], "msg_weft_0008", NOW + TOLERANCE_SECONDS, BODY), BODY, NOW)

# --- key rotation --------------------------------------------------------
vector("rotation_verifier_has_old_and_new_signed_with_old", [SECRET_B, SECRET_A],
       signed_headers([SECRET_A], "msg_weft_0101", NOW, BODY), BODY, NOW,
       note="Verifier holds new (B) and old (A); sender still signs with old only.")
vector("rotation_verifier_has_old_and_new_signed_with_new", [SECRET_B, SECRET_A],
       signed_headers([SECRET_B], "msg_weft_0102", NOW, BODY), BODY, NOW)
vector("rotation_two_entries_second_matches", [SECRET_B],
       signed_headers([SECRET_A, SECRET_B], "msg_weft_0103", NOW, BODY), BODY, NOW,
       note="Sender signs with A and B; verifier only has B, which matches the second entry.")
vector("rotation_two_entries_neither_matches", [SECRET_C],
       signed_headers([SECRET_A, SECRET_B], "msg_weft_0104", NOW, BODY), BODY, NOW, "bad_signature")

# --- version prefixes ----------------------------------------------------
h = signed_headers([SECRET_A], "msg_weft_0201", NOW, BODY)
v1 = h["webhook-signature"]
h["webhook-signature"] = "v1a,c2lnbmF0dXJlLWZvci1hLWZ1dHVyZS1zY2hlbWU= v2,bm90IGEgdjEgc2lnbmF0dXJl " + v1
vector("non_v1_entries_plus_valid_v1", [SECRET_A], h, BODY, NOW,
       note="Entries with other version prefixes (v1a, v2) are ignored.")
h = signed_headers([SECRET_A], "msg_weft_0202", NOW, BODY)
h["webhook-signature"] = "v2," + h["webhook-signature"][len("v1,"):]
vector("correct_mac_under_non_v1_prefix", [SECRET_A], h, BODY, NOW, "bad_signature",
       note="The right HMAC labelled v2 does not count: only v1 entries are checked.")

# --- bad signatures ------------------------------------------------------
h = signed_headers([SECRET_A], "msg_weft_0301", NOW, BODY)
vector("tampered_body", [SECRET_A], h, BODY.replace("1250", "9250"), NOW, "bad_signature")
vector("wrong_key", [SECRET_C], signed_headers([SECRET_A], "msg_weft_0302", NOW, BODY), BODY, NOW,
       "bad_signature")
h = signed_headers([SECRET_A], "msg_weft_0303", NOW, BODY)
h["webhook-id"] = "msg_weft_9999"
vector("tampered_id", [SECRET_A], h, BODY, NOW, "bad_signature")
h = signed_headers([SECRET_A], "msg_weft_0304", NOW, BODY)
h["webhook-timestamp"] = str(NOW - 1)
vector("tampered_timestamp_within_tolerance", [SECRET_A], h, BODY, NOW, "bad_signature")
h = signed_headers([SECRET_A], "msg_weft_0305", NOW, BODY)
h["webhook-signature"] = h["webhook-signature"][:-5] + "="
vector("truncated_signature", [SECRET_A], h, BODY, NOW, "bad_signature")
h = signed_headers([SECRET_A], "msg_weft_0306", NOW, BODY)
h["webhook-signature"] = h["webhook-signature"][len("v1,"):]
vector("signature_without_version_prefix", [SECRET_A], h, BODY, NOW, "bad_signature")
h = signed_headers([RAW_BASE64_LOOKING], "msg_weft_0307", NOW, BODY)
vector("raw_secret_signed_but_verifier_uses_whsec_form", ["whsec_" + RAW_BASE64_LOOKING], h, BODY, NOW,
       "bad_signature", note="'X' and 'whsec_X' are different keys.")

# --- timestamps ----------------------------------------------------------
vector("stale_timestamp", [SECRET_A],
       signed_headers([SECRET_A], "msg_weft_0401", NOW - TOLERANCE_SECONDS - 1, BODY), BODY, NOW,
       "stale_timestamp", note="Correctly signed, but 301 s old.")
vector("stale_timestamp_one_hour", [SECRET_A],
       signed_headers([SECRET_A], "msg_weft_0402", NOW - 3600, BODY), BODY, NOW, "stale_timestamp")
vector("future_timestamp", [SECRET_A],
       signed_headers([SECRET_A], "msg_weft_0403", NOW + TOLERANCE_SECONDS + 1, BODY), BODY, NOW,
       "future_timestamp", note="Correctly signed, but 301 s in the future.")
vector("future_timestamp_one_hour", [SECRET_A],
       signed_headers([SECRET_A], "msg_weft_0404", NOW + 3600, BODY), BODY, NOW, "future_timestamp")
h = signed_headers([SECRET_A], "msg_weft_0405", NOW, BODY)
h["webhook-timestamp"] = "not-a-number"
vector("invalid_timestamp_not_a_number", [SECRET_A], h, BODY, NOW, "invalid_timestamp")
h = {"webhook-id": "msg_weft_0406", "webhook-timestamp": f"{NOW}.5"}
h["webhook-signature"] = sign([SECRET_A], h["webhook-id"], h["webhook-timestamp"], BODY)
vector("invalid_timestamp_fraction", [SECRET_A], h, BODY, NOW, "invalid_timestamp",
       note="Signed over the literal header value, but timestamps must be integers.")
h = {"webhook-id": "msg_weft_0407", "webhook-timestamp": f"-{NOW}"}
h["webhook-signature"] = sign([SECRET_A], h["webhook-id"], h["webhook-timestamp"], BODY)
vector("invalid_timestamp_negative", [SECRET_A], h, BODY, NOW, "invalid_timestamp")

# --- missing headers -----------------------------------------------------
for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
    h = signed_headers([SECRET_A], "msg_weft_0501", NOW, BODY)
    del h[header]
    vector("missing_" + header.replace("-", "_"), [SECRET_A], h, BODY, NOW, "missing_headers")
h = signed_headers([SECRET_A], "msg_weft_0502", NOW, BODY)
h["webhook-signature"] = ""
vector("empty_signature_header", [SECRET_A], h, BODY, NOW, "missing_headers",
       note="An empty header counts as missing.")

# --- signer output -------------------------------------------------------
signing = []


def signing_vector(name, secrets, msg_id, ts, body, expected=None):
    signature = sign(secrets, msg_id, ts, body)
    if expected is not None:
        assert signature == expected, name
    signing.append({"name": name, "secrets": secrets, "id": msg_id, "timestampSeconds": ts,
                    "body": body, "signature": signature})


signing_vector("spec_example", [SPEC_SECRET], SPEC_ID, SPEC_TS, SPEC_BODY, SPEC_SIGNATURE)
signing_vector("whsec_secret", [SECRET_A], "msg_weft_0001", NOW, BODY)
signing_vector("raw_string_secret", [RAW_SECRET], "msg_weft_0002", NOW, BODY)
signing_vector("raw_secret_that_looks_like_base64", [RAW_BASE64_LOOKING], "msg_weft_0003", NOW, BODY)
signing_vector("two_secrets_in_order", [SECRET_A, SECRET_B], "msg_weft_0103", NOW, BODY)
signing_vector("three_secrets_mixed_kinds", [SECRET_B, RAW_SECRET, SECRET_C], "msg_weft_0601", NOW, BODY)
signing_vector("unicode_body", [SECRET_A], "msg_weft_0004", NOW, UNICODE_BODY)
signing_vector("empty_body", [SECRET_A], "msg_weft_0005", NOW, "")
signing_vector("timestamp_zero", [SECRET_A], "msg_weft_0602", 0, BODY)

doc = {
    "description": (
        "Standard Webhooks signature test vectors for Weft (generated by generate_signatures.py, an "
        "independent Python implementation). Signature: space-separated entries "
        "'v1,' + base64(HMAC-SHA256(key, '<webhook-id>.<webhook-timestamp>.<body>')), one per signing "
        "secret. Secrets 'whsec_<base64>' use the decoded bytes as key, any other string its UTF-8 bytes. "
        "body is the exact body, signed as UTF-8 bytes. Verify with now = nowSeconds and "
        "toleranceSeconds: a timestamp must be ASCII digits only (else invalid_timestamp); "
        "timestamp < now - tolerance is stale_timestamp, timestamp > now + tolerance is "
        "future_timestamp (exactly tolerance either way is accepted). An absent or empty header is "
        "missing_headers. Entries with a version other than 'v1' are ignored. A request is valid "
        "if any v1 entry equals the expected base64 text for any secret. Checks run in that order: "
        "headers, timestamp format, timestamp window, signature."
    ),
    "toleranceSeconds": TOLERANCE_SECONDS,
    "vectors": vectors,
    "signing": signing,
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "signatures.json")
with open(out, "w", encoding="utf-8") as f:
    json.dump(doc, f, ensure_ascii=False, indent=2)
    f.write("\n")
print(f"wrote {out}: {len(vectors)} vectors, {len(signing)} signing vectors")
