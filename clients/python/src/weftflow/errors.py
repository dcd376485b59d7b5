"""Rich gRPC error details (google.rpc.Status) of Weft's errors.

Weft answers bad input with ``INVALID_ARGUMENT`` and a ``google.rpc.BadRequest``
detail (one field violation per problem), and every error with a
``google.rpc.ErrorInfo`` (domain ``weft.v1``, reasons such as
``RUN_NOT_FOUND`` and ``RUN_FINISHED``). They travel in the
``grpc-status-details-bin`` trailer of the failed call.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

__all__ = ["error_info", "field_violations", "rich_status"]

_DETAILS_KEY = "grpc-status-details-bin"


def rich_status(err: grpc.RpcError | Any) -> status_pb2.Status | None:
    """The ``google.rpc.Status`` of a failed call, or ``None`` if it carries none."""
    if not callable(getattr(err, "trailing_metadata", None)):
        return None  # an RpcError that is not a grpc.Call carries no trailers
    try:
        return rpc_status.from_call(err)
    except ValueError:
        # from_call insists that code and message match the status exactly;
        # the details are still worth reading if, say, a proxy rewrote the message.
        pass
    for key, value in err.trailing_metadata() or ():  # type: ignore[misc]
        if key == _DETAILS_KEY and isinstance(value, bytes):
            try:
                return status_pb2.Status.FromString(value)
            except Exception:  # noqa: BLE001 - a corrupt trailer means "no details"
                return None
    return None


def field_violations(err: grpc.RpcError | Any) -> list[tuple[str, str]]:
    """``(field, description)`` for every ``google.rpc.BadRequest`` field violation of
    a failed call, in the server's order, e.g.
    ``[("steps[2].depends_on[0]", 'unknown step "charge"')]``. Empty if there are none."""
    status = rich_status(err)
    if status is None:
        return []
    result: list[tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            result.extend((v.field, v.description) for v in bad_request.field_violations)
    return result


def error_info(err: grpc.RpcError | Any) -> error_details_pb2.ErrorInfo | None:
    """The ``google.rpc.ErrorInfo`` of a failed call (``.reason``, ``.domain``,
    ``.metadata``), e.g. reason ``RUN_NOT_FOUND``; ``None`` if there is none."""
    status = rich_status(err)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None
