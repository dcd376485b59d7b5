"""Conversions between Python values and the protobuf types of the Weft API."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any, Union, cast

from google.protobuf import duration_pb2, struct_pb2

from ._proto.weft.v1 import workflow_pb2 as pb

__all__ = [
    "DurationLike",
    "JoinLike",
    "StepLike",
    "duration",
    "join_policy",
    "retry_policy",
    "step",
    "struct",
    "to_python",
]

DurationLike = Union[duration_pb2.Duration, timedelta, int, float, str]
"""A duration: seconds (int/float), a timedelta, proto JSON ("300s", "0.5s") or a Duration."""

StepLike = Union[pb.StepDefinition, Mapping[str, Any]]
"""A step: a StepDefinition, or a dict with the same fields (snake_case or camelCase)."""

JoinLike = Union[pb.JoinPolicy, str, Mapping[str, Any]]
"""A join policy: "all", "all_settled", "any", {"at_least": k}, {"tolerated_failure_percent": p} or a JoinPolicy."""

_MAX_SAFE_INT = 2**53

_JOIN_NAMES = {"all": "all", "all_settled": "all_settled", "allSettled": "all_settled", "any": "any"}
_JOIN_FIELDS = {
    "at_least": "at_least",
    "atLeast": "at_least",
    "tolerated_failure_percent": "tolerated_failure_percent",
    "toleratedFailurePercent": "tolerated_failure_percent",
}


def duration(value: DurationLike) -> duration_pb2.Duration:
    """A ``google.protobuf.Duration`` from seconds, a timedelta, ``"300s"`` or a Duration."""
    if isinstance(value, duration_pb2.Duration):
        return value
    d = duration_pb2.Duration()
    if isinstance(value, timedelta):
        d.FromTimedelta(value)
    elif isinstance(value, bool):
        raise TypeError("a duration must be seconds, a timedelta or a string like '300s', not a bool")
    elif isinstance(value, int):
        d.seconds = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a duration must be finite")
        d.FromNanoseconds(round(value * 1e9))
    elif isinstance(value, str):
        d.FromJsonString(value)
    else:
        raise TypeError(f"a duration must be seconds, a timedelta or a string like '300s', not {type(value).__name__}")
    return d


def _backoff(value: Any) -> pb.Backoff:
    if isinstance(value, bool):
        raise TypeError("backoff must be 'exponential', 'linear', 'fixed' or a weft.v1.Backoff value")
    if isinstance(value, int):
        return cast(pb.Backoff, value)
    if isinstance(value, str):
        name = value.strip().upper()
        if not name.startswith("BACKOFF_"):
            name = "BACKOFF_" + name
        try:
            return cast(pb.Backoff, pb.Backoff.Value(name))
        except ValueError:
            pass
    raise ValueError(f"unknown backoff {value!r}: use 'exponential', 'linear' or 'fixed'")


def retry_policy(
    max_attempts: int = 0,
    backoff: str | int = 0,  # "exponential", "linear", "fixed" or a weft.v1.Backoff
    initial_interval: DurationLike | None = None,
    max_interval: DurationLike | None = None,
    jitter: float = 0.0,
) -> pb.RetryPolicy:
    """A ``RetryPolicy``: ``retry_policy(3, "exponential", initial_interval=1)``."""
    policy = pb.RetryPolicy(max_attempts=max_attempts, backoff=_backoff(backoff), jitter=jitter)
    if initial_interval is not None:
        policy.initial_interval.CopyFrom(duration(initial_interval))
    if max_interval is not None:
        policy.max_interval.CopyFrom(duration(max_interval))
    return policy


_RETRY_FIELDS = {
    "max_attempts": "max_attempts",
    "maxAttempts": "max_attempts",
    "backoff": "backoff",
    "initial_interval": "initial_interval",
    "initialInterval": "initial_interval",
    "max_interval": "max_interval",
    "maxInterval": "max_interval",
    "jitter": "jitter",
}


def _retries(value: Any) -> pb.RetryPolicy:
    if isinstance(value, pb.RetryPolicy):
        return value
    if not isinstance(value, Mapping):
        raise TypeError("retries must be a RetryPolicy or a dict")
    kwargs = {}
    for key, v in value.items():
        if key not in _RETRY_FIELDS:
            raise TypeError(f"unknown retry policy field {key!r}")
        kwargs[_RETRY_FIELDS[key]] = v
    return retry_policy(**kwargs)


def join_policy(value: JoinLike) -> pb.JoinPolicy:
    """A ``JoinPolicy``: ``join_policy("all_settled")``, ``join_policy({"at_least": 2})``."""
    if isinstance(value, pb.JoinPolicy):
        return value
    expected = '"all", "all_settled", "any", {"at_least": k} or {"tolerated_failure_percent": p}'
    if isinstance(value, str):
        if value not in _JOIN_NAMES:
            raise ValueError(f"join must be {expected}, not {value[:40]!r}")
        j = pb.JoinPolicy()
        getattr(j, _JOIN_NAMES[value]).SetInParent()
        return j
    if not isinstance(value, Mapping) or len(value) != 1:
        raise TypeError(f"join must be {expected}")
    ((key, v),) = value.items()
    if key not in _JOIN_FIELDS:
        raise TypeError(f"join must be {expected}, not a dict with {str(key)[:40]!r}")
    if _JOIN_FIELDS[key] == "at_least":
        if isinstance(v, bool) or not isinstance(v, int) or abs(v) > 2**31 - 1:
            raise TypeError("join at_least must be an int")
        return pb.JoinPolicy(at_least=v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError("join tolerated_failure_percent must be a number")
    return pb.JoinPolicy(tolerated_failure_percent=float(v))


def concurrency_limit(value: pb.ConcurrencyLimit | Mapping[str, Any]) -> pb.ConcurrencyLimit:
    """A ``ConcurrencyLimit``: ``{"key": "/context/userId", "limit": 1}`` (README "Concurrency keys")."""
    if isinstance(value, pb.ConcurrencyLimit):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"concurrency must be a ConcurrencyLimit or a dict with key and limit, not {type(value).__name__}")
    unknown = set(value) - {"key", "limit"}
    if unknown:
        raise TypeError(f"unknown concurrency field {sorted(unknown)[0]!r} (fields: key, limit)")
    limit = value.get("limit", 0)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError("concurrency limit must be an int")
    return pb.ConcurrencyLimit(key=value.get("key", ""), limit=limit)


def step(
    id: str,
    url: str,
    *,
    depends_on: Iterable[str] = (),
    parallel: bool = False,
    retries: pb.RetryPolicy | Mapping[str, Any] | None = None,
    timeout: DurationLike | None = None,
    compensation: str = "",
    join: JoinLike | None = None,
    for_each: str = "",
    max_concurrency: int = 0,
    item_failures: JoinLike | None = None,
    concurrency: pb.ConcurrencyLimit | Mapping[str, Any] | None = None,
) -> pb.StepDefinition:
    """A ``StepDefinition``: ``step("charge", "/api/jobs/charge", depends_on=["validate"])``.

    A map step: ``step("process", "/api/jobs/item", depends_on=["prepare"],
    for_each="/prepare/result/items", max_concurrency=50, item_failures="all_settled")``."""
    if isinstance(depends_on, str):
        raise TypeError("depends_on must be a list of step ids, not a str")
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
        raise TypeError("max_concurrency must be an int")
    s = pb.StepDefinition(
        id=id,
        url=url,
        depends_on=list(depends_on),
        parallel=parallel,
        compensation=compensation,
        for_each=for_each,
        max_concurrency=max_concurrency,
    )
    if retries is not None:
        s.retries.CopyFrom(_retries(retries))
    if timeout is not None:
        s.timeout.CopyFrom(duration(timeout))
    if join is not None:
        s.join.CopyFrom(join_policy(join))
    if item_failures is not None:
        s.item_failures.CopyFrom(join_policy(item_failures))
    if concurrency is not None:
        s.concurrency.CopyFrom(concurrency_limit(concurrency))
    return s


_STEP_FIELDS = {
    "id": "id",
    "url": "url",
    "depends_on": "depends_on",
    "dependsOn": "depends_on",
    "parallel": "parallel",
    "retries": "retries",
    "timeout": "timeout",
    "compensation": "compensation",
    "join": "join",
    "for_each": "for_each",
    "forEach": "for_each",
    "max_concurrency": "max_concurrency",
    "maxConcurrency": "max_concurrency",
    "item_failures": "item_failures",
    "itemFailures": "item_failures",
    "concurrency": "concurrency",
}


def to_step(value: StepLike) -> pb.StepDefinition:
    """A ``StepDefinition`` from a StepDefinition or a dict of its fields."""
    if isinstance(value, pb.StepDefinition):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"a step must be a StepDefinition or a dict, not {type(value).__name__}")
    kwargs: dict[str, Any] = {}
    for key, v in value.items():
        if key not in _STEP_FIELDS:
            raise TypeError(f"unknown step field {key!r} (fields: id, url, depends_on, parallel, retries, timeout, compensation, join, for_each, max_concurrency, item_failures, concurrency)")
        kwargs[_STEP_FIELDS[key]] = v
    return step(kwargs.pop("id", ""), kwargs.pop("url", ""), **kwargs)


def struct(value: Mapping[str, Any] | struct_pb2.Struct) -> struct_pb2.Struct:
    """A ``google.protobuf.Struct`` from a JSON-like dict."""
    if isinstance(value, struct_pb2.Struct):
        return value
    if not isinstance(value, Mapping):
        raise TypeError("context must be a dict (a JSON object)")
    s = struct_pb2.Struct()
    s.update(dict(value))
    return s


def to_python(value: struct_pb2.Value | struct_pb2.Struct | struct_pb2.ListValue | None) -> Any:
    """The plain Python value of a ``Value``/``Struct``/``ListValue`` (e.g. a step
    result): dicts, lists, str, bool, None, and numbers, where whole numbers
    come back as ``int`` (JSON does not tell 13 from 13.0)."""
    if value is None:
        return None
    if isinstance(value, struct_pb2.Struct):
        return {k: to_python(v) for k, v in value.fields.items()}
    if isinstance(value, struct_pb2.ListValue):
        return [to_python(v) for v in value.values]
    if not isinstance(value, struct_pb2.Value):
        raise TypeError(f"expected a google.protobuf Value, Struct or ListValue, not {type(value).__name__}")
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "number_value":
        n = value.number_value
        if math.isfinite(n) and n.is_integer() and abs(n) <= _MAX_SAFE_INT:
            return int(n)
        return n
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return to_python(value.struct_value)
    return to_python(value.list_value)
