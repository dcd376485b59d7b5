"""Standard Webhooks signatures, as Weft signs every step and webhook request.

Headers::

    webhook-id:        the message id
    webhook-timestamp: integer unix seconds
    webhook-signature: "v1,<base64 HMAC-SHA256(key, '<id>.<timestamp>.<body>')>",
                       one space-separated entry per signing secret (key rotation)

A secret written ``whsec_<base64>`` stands for the decoded bytes after the
prefix; any other string stands for its own UTF-8 bytes. The rules (and their
order) follow ``test/vectors/signatures.json``: headers present, timestamp
ASCII digits only, timestamp within ``tolerance_seconds`` either way (exactly
the tolerance is accepted), then any ``v1`` entry matching any secret,
compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Union

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SECRETS_ENV_VAR",
    "SignatureError",
    "SignatureFailure",
    "parse_secret_list",
    "secret_key",
    "secrets_from_env",
    "sign",
    "sign_headers",
    "verify_request",
]

DEFAULT_TOLERANCE_SECONDS = 300
SECRETS_ENV_VAR = "WEFT_SIGNING_SECRETS"

SignatureFailure = Literal[
    "missing_headers",
    "invalid_timestamp",
    "stale_timestamp",
    "future_timestamp",
    "bad_signature",
]

_WHSEC_PREFIX = "whsec_"
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_TIMESTAMP_RE = re.compile(r"[0-9]+")  # ASCII digits only: no sign, space, fraction, exponent
_VERSION = "v1"

Body = Union[bytes, bytearray, memoryview, str]
Secrets = Union[Sequence[str], str]
Now = Union[int, float, datetime, None]


class SignatureError(Exception):
    """A request whose signature headers do not check out.

    ``reason`` is one of ``missing_headers``, ``invalid_timestamp``,
    ``stale_timestamp``, ``future_timestamp``, ``bad_signature`` (the reason
    strings of the shared test vectors). Answer such a request with 401.
    """

    _MESSAGES = {
        "missing_headers": "webhook-id, webhook-timestamp or webhook-signature header is missing or empty",
        "invalid_timestamp": "webhook-timestamp is not an integer number of seconds",
        "stale_timestamp": "webhook-timestamp is too old",
        "future_timestamp": "webhook-timestamp is too far in the future",
        "bad_signature": "no webhook-signature entry matches a signing secret",
    }

    def __init__(self, reason: SignatureFailure) -> None:
        super().__init__(f"{reason}: {self._MESSAGES.get(reason, 'invalid signature')}")
        self.reason: SignatureFailure = reason


def parse_secret_list(value: str | None) -> list[str]:
    """Split a list of secrets as found in ``WEFT_SIGNING_SECRETS``.

    Entries are separated by commas and/or whitespace; empty ones are dropped.
    Base64 never contains either, so ``whsec_`` secrets are never split.
    """
    if not value:
        return []
    return [s for s in re.split(r"[\s,]+", value) if s]


def secrets_from_env(name: str = SECRETS_ENV_VAR) -> list[str]:
    """The secrets in an environment variable (default ``WEFT_SIGNING_SECRETS``)."""
    return parse_secret_list(os.environ.get(name))


def secret_key(secret: str) -> bytes:
    """The HMAC key bytes a secret stands for. Raises ``ValueError`` for unusable secrets.

    Error messages never include the secret itself.
    """
    if not isinstance(secret, str):
        raise TypeError("a signing secret must be a str")
    if not secret.startswith(_WHSEC_PREFIX):
        if not secret:
            raise ValueError("signing secret is empty")
        return secret.encode("utf-8")
    encoded = secret[len(_WHSEC_PREFIX) :]
    if not encoded:
        raise ValueError('signing secret "whsec_…" has an empty key: put the base64-encoded key after "whsec_"')
    unpadded = encoded.rstrip("=")
    padded = len(unpadded) != len(encoded)
    if (
        not _BASE64_RE.fullmatch(encoded)
        or len(unpadded) % 4 == 1
        or (padded and len(encoded) % 4 != 0)
    ):
        raise ValueError(
            'signing secret "whsec_…" is not valid: the part after "whsec_" must be standard base64 '
            '(A-Z, a-z, 0-9, "+", "/", optional "=" padding)'
        )
    try:
        key = base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except binascii.Error as exc:  # pragma: no cover - excluded by the checks above
        raise ValueError('signing secret "whsec_…" is not valid base64') from None
    if not key:
        raise ValueError('signing secret "whsec_…" decodes to an empty key')
    return key


def _secret_list(secrets: Secrets) -> list[str]:
    # A plain str is a Sequence[str] of characters: treat it as a secret list instead.
    result = parse_secret_list(secrets) if isinstance(secrets, str) else list(secrets)
    if not result:
        raise ValueError(
            "no signing secrets given: pass the secret(s) Weft signs with "
            f'(e.g. "whsec_…"; several while rotating keys), for example secrets_from_env() for {SECRETS_ENV_VAR}'
        )
    return result


def _body_bytes(body: Body) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError("body must be bytes (the exact request body) or str (taken as UTF-8)")


def _signature(key: bytes, prefix: bytes, body: bytes) -> str:
    mac = hmac.new(key, prefix, hashlib.sha256)
    mac.update(body)
    return base64.b64encode(mac.digest()).decode("ascii")


def sign(id: str, timestamp: int | str, body: Body, secrets: Secrets) -> str:
    """The ``webhook-signature`` header value: one ``v1,<base64>`` entry per secret, in order."""
    if not isinstance(id, str) or not id:
        raise ValueError("webhook id must be a non-empty string")
    if isinstance(timestamp, bool):
        raise TypeError("timestamp must be integer unix seconds")
    if isinstance(timestamp, str):
        if not _TIMESTAMP_RE.fullmatch(timestamp):
            raise ValueError("timestamp must be integer unix seconds")
        ts = timestamp
    elif isinstance(timestamp, int):
        if timestamp < 0:
            raise ValueError("timestamp must be non-negative unix seconds")
        ts = str(timestamp)
    else:
        raise TypeError("timestamp must be integer unix seconds")
    prefix = f"{id}.{ts}.".encode("utf-8")
    data = _body_bytes(body)
    return " ".join(f"{_VERSION},{_signature(secret_key(s), prefix, data)}" for s in _secret_list(secrets))


def sign_headers(id: str, timestamp: int, body: Body, secrets: Secrets) -> dict[str, str]:
    """All three signature headers for one request (e.g. to call a handler in a test)."""
    return {
        "webhook-id": id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(id, timestamp, body, secrets),
    }


def _header(headers: Any, name: str) -> str | None:
    """Case-insensitive header lookup on a dict or any Mapping, Flask/Werkzeug
    or Starlette/FastAPI headers, ``http.server``'s ``email.message.Message``,
    aiohttp's multidict, or a list of (name, value) pairs. Repeated headers are
    joined with ", " (as HTTP allows)."""
    for attr in ("getlist", "get_all", "getall"):
        # Werkzeug and Starlette (getlist), email.message.Message (get_all),
        # multidict (getall): case-insensitive, and they keep repeated headers.
        fn = getattr(headers, attr, None)
        if callable(fn):
            try:
                values = fn(name)
            except KeyError:
                values = None
            return ", ".join(_join(v) for v in values) if values else None
    if isinstance(headers, Mapping) or callable(getattr(headers, "items", None)):
        value = headers.get(name) if callable(getattr(headers, "get", None)) else None
        if value is not None:
            return _join(value)
        found = []
        for key, value in headers.items():
            if isinstance(key, bytes):
                key = key.decode("latin-1")
            if isinstance(key, str) and key.lower() == name and value is not None:
                found.append(_join(value))
        return ", ".join(found) if found else None
    if isinstance(headers, Iterable) and not isinstance(headers, (str, bytes)):
        found = []
        for key, value in headers:
            if isinstance(key, bytes):
                key = key.decode("latin-1")
            if str(key).lower() == name:
                found.append(_join(value))
        return ", ".join(found) if found else None
    raise TypeError("headers must be a mapping of header names to values")


def _join(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple)):
        return ", ".join(_join(v) for v in value)
    return str(value)


def _now_seconds(now: Now) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, datetime):
        return int(now.timestamp() // 1)
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError("now must be unix seconds (int or float) or a datetime")
    return int(now // 1)


def verify_request(
    headers: Mapping[str, str] | Any,
    body: Body,
    secrets: Secrets,
    *,
    tolerance_seconds: int | float = DEFAULT_TOLERANCE_SECONDS,
    now: Now = None,
) -> None:
    """Check a request's Standard Webhooks signature; return ``None`` if it is valid.

    Raises ``SignatureError`` (with ``.reason``) if it is not. ``headers`` is
    looked up case-insensitively (a dict, ``flask.request.headers``,
    ``fastapi.Request.headers``, ``http.server``'s ``self.headers``, …);
    ``body`` must be the exact bytes received (verify before parsing JSON);
    ``secrets`` are all accepted secrets (a request passes if any ``v1``
    entry matches any of them; a single comma-separated string is split).
    ``now`` defaults to the current time (unix seconds or a datetime).

    Raises ``ValueError`` when no secrets are given or a secret is malformed:
    that is a configuration error, not a bad request.
    """
    secret_list = _secret_list(secrets)
    keys = [secret_key(s) for s in secret_list]
    if isinstance(tolerance_seconds, bool) or not isinstance(tolerance_seconds, (int, float)) or tolerance_seconds < 0:
        raise ValueError("tolerance_seconds must be a non-negative number")
    data = _body_bytes(body)

    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signature = _header(headers, "webhook-signature")
    if not msg_id or not timestamp or not signature:
        raise SignatureError("missing_headers")

    if not _TIMESTAMP_RE.fullmatch(timestamp):
        raise SignatureError("invalid_timestamp")
    ts = int(timestamp)
    current = _now_seconds(now)
    if ts < current - tolerance_seconds:
        raise SignatureError("stale_timestamp")
    if ts > current + tolerance_seconds:
        raise SignatureError("future_timestamp")

    offered: list[bytes] = []
    for entry in signature.split():
        if entry.endswith(","):  # the ", " that joining repeated headers inserts
            entry = entry[:-1]
        version, sep, value = entry.partition(",")
        if sep and version == _VERSION:
            offered.append(value.encode("utf-8"))
    if not offered:
        raise SignatureError("bad_signature")

    prefix = f"{msg_id}.{timestamp}.".encode("utf-8")
    matched = False
    for key in keys:
        expected = _signature(key, prefix, data).encode("ascii")
        for candidate in offered:
            # Compare every pair (no early exit) in constant time per comparison.
            matched |= hmac.compare_digest(candidate, expected)
    if not matched:
        raise SignatureError("bad_signature")
