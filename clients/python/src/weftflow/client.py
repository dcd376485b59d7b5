"""A thin, typed client for ``weft.v1.WorkflowService`` over gRPC."""

from __future__ import annotations

import os
import re
from datetime import datetime
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Optional, cast

import grpc
from google.protobuf import struct_pb2

from ._proto.weft.v1 import workflow_pb2 as pb
from ._proto.weft.v1 import workflow_pb2_grpc as pb_grpc
from .convert import DurationLike, StepLike, concurrency_limit, duration, struct, to_step

__all__ = ["Client", "TERMINAL_RUN_STATES", "format_event", "is_terminal_event"]

TERMINAL_RUN_STATES = frozenset(
    {pb.WORKFLOW_STATE_COMPLETED, pb.WORKFLOW_STATE_FAILED, pb.WORKFLOW_STATE_CANCELLED}
)
"""Run states after which nothing changes (COMPENSATING is not one: a saga run goes on to FAILED/CANCELLED)."""

Metadata = Sequence[tuple[str, str]]

API_KEY_ENV = "WEFT_API_KEY"
"""The environment variable ``Client`` reads an API key from when ``api_key`` is not given."""

_API_KEY = re.compile(r"[\x21-\x7e]{1,256}")


def is_terminal_event(event: pb.WorkflowEvent) -> bool:
    """Whether an event is the run's transition into COMPLETED, FAILED or CANCELLED."""
    return event.WhichOneof("transition") == "run" and event.run.to_state in TERMINAL_RUN_STATES


def _state_name(enum: Any, value: int, prefix: str) -> str:
    try:
        name = str(enum.Name(value))
    except ValueError:
        return str(value)
    return name[len(prefix) :] if name.startswith(prefix) else name


def format_event(event: pb.WorkflowEvent) -> str:
    """One line for a transition, e.g. ``#7 step process-item-2: RUNNING -> COMPLETED (attempt 1)``."""
    kind = event.WhichOneof("transition")
    enum: Any
    states: tuple[int, int]
    if kind == "run":
        what = "run"
        enum, prefix = pb.WorkflowState, "WORKFLOW_STATE_"
        states = (event.run.from_state, event.run.to_state)
    elif kind == "step":
        what = f"step {event.step_id}"
        enum, prefix = pb.StepState, "STEP_STATE_"
        states = (event.step.from_state, event.step.to_state)
    elif kind == "compensation":
        what = f"compensation {event.step_id}"
        enum, prefix = pb.CompensationState, "COMPENSATION_STATE_"
        states = (event.compensation.from_state, event.compensation.to_state)
    else:
        return f"#{event.sequence} (unknown transition)"
    line = f"#{event.sequence} {what}: {_state_name(enum, states[0], prefix)} -> {_state_name(enum, states[1], prefix)}"
    if event.attempt:
        line += f" (attempt {event.attempt})"
    if event.HasField("error") and (event.error.message or event.error.reason):
        line += f" error={event.error.reason}: {event.error.message}"
    return line


def _channel_for(target: str, credentials: grpc.ChannelCredentials | None, options: Sequence[tuple[str, Any]]) -> grpc.Channel:
    secure = credentials is not None
    if target.startswith("http://"):
        target = target[len("http://") :]
    elif target.startswith("https://"):
        target = target[len("https://") :]
        secure = True
    target = target.rstrip("/")
    if secure:
        return grpc.secure_channel(target, credentials or grpc.ssl_channel_credentials(), options=list(options))
    return grpc.insecure_channel(target, options=list(options))


class Client:
    """Weft's ``WorkflowService`` over gRPC.

    ``Client("127.0.0.1:8080")`` (or ``"http://…"``) uses a plaintext HTTP/2
    channel; ``"https://…"`` or ``credentials=`` a TLS one; ``channel=`` any
    existing channel (then ``target`` is ignored and ``close()`` leaves it open).
    ``timeout`` is the deadline of each unary call in seconds (``None``: none).
    ``api_key`` (default: the ``WEFT_API_KEY`` environment variable) is sent as
    ``authorization: Bearer <key>`` metadata on every call, streams included.
    Failed calls raise ``grpc.RpcError``; see ``field_violations`` and ``error_info``.
    """

    def __init__(
        self,
        target: str = "127.0.0.1:8080",
        *,
        channel: grpc.Channel | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        timeout: float | None = 30.0,
        metadata: Metadata = (),
        api_key: str | None = None,
    ) -> None:
        if api_key is None:
            api_key = os.environ.get(API_KEY_ENV) or None
        if api_key is not None and not _API_KEY.fullmatch(api_key):
            # Never quote the key.
            raise ValueError("api_key must be 1 to 256 printable ASCII characters without whitespace")
        self._owns_channel = channel is None
        self._channel = channel if channel is not None else _channel_for(target, credentials, options)
        self._stub = pb_grpc.WorkflowServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._timeout = timeout
        auth = (("authorization", f"Bearer {api_key}"),) if api_key else ()
        self._metadata = tuple(m for m in metadata if m[0].lower() != "authorization" or not auth) + auth

    @property
    def stub(self) -> pb_grpc.WorkflowServiceStub:
        """The generated stub, for anything this wrapper does not cover."""
        return self._stub

    @property
    def channel(self) -> grpc.Channel:
        return self._channel

    def close(self) -> None:
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _md(self) -> Optional[Metadata]:
        return self._metadata or None

    # ---- unary calls ------------------------------------------------------------

    def create_workflow(
        self,
        id: str,
        steps: Iterable[StepLike],
        *,
        context: Mapping[str, Any] | struct_pb2.Struct | None = None,
        on_complete: str = "",
        on_error: str = "",
        timeout: DurationLike | None = None,
        saga: bool = False,
        base_url: str = "",
        request_id: str = "",
        concurrency: pb.ConcurrencyLimit | Mapping[str, Any] | None = None,
        priority: int = 0,
        labels: Mapping[str, str] | None = None,
    ) -> pb.CreateWorkflowResponse:
        """Validate, store and start a run. Returns ``.workflow`` (the run; ``.workflow.id``
        is its ``wf_…`` id) and ``.deduplicated`` (``request_id`` matched an earlier run).

        ``steps`` are ``StepDefinition``s or dicts such as
        ``{"id": "charge", "url": "/api/jobs/charge", "depends_on": ["validate"],
        "retries": {"max_attempts": 3, "backoff": "exponential"}, "timeout": 30}``.
        ``concurrency={"key": "/context/userId", "limit": 1}`` runs at most that many runs
        per key at once (a step takes the same in its ``"concurrency"``); ``priority``
        (-1000..1000) orders the runs waiting for a key.
        """
        if isinstance(steps, (str, bytes, Mapping)):
            raise TypeError("steps must be a list of steps")
        req = pb.CreateWorkflowRequest(
            id=id,
            steps=[to_step(s) for s in steps],
            on_complete=on_complete,
            on_error=on_error,
            saga=saga,
            base_url=base_url,
            request_id=request_id,
            priority=priority,
            labels=dict(labels or {}),
        )
        if concurrency is not None:
            req.concurrency.CopyFrom(concurrency_limit(concurrency))
        if context is not None:
            req.context.CopyFrom(struct(context))
        if timeout is not None:
            req.timeout.CopyFrom(duration(timeout))
        return cast(pb.CreateWorkflowResponse, self._stub.CreateWorkflow(req, timeout=self._timeout, metadata=self._md()))

    def get_workflow(self, id: str) -> pb.Workflow:
        """A run's status: state, times, steps, results, error, webhook."""
        res: pb.GetWorkflowResponse = self._stub.GetWorkflow(pb.GetWorkflowRequest(id=id), timeout=self._timeout, metadata=self._md())
        return res.workflow

    def cancel(self, id: str, reason: str = "") -> pb.Workflow:
        """Cancel a run that has not finished (``FAILED_PRECONDITION`` if it has)."""
        res: pb.CancelWorkflowResponse = self._stub.CancelWorkflow(
            pb.CancelWorkflowRequest(id=id, reason=reason), timeout=self._timeout, metadata=self._md()
        )
        return res.workflow

    def redrive(self, id: str, deadline_extension_seconds: float | None = None) -> pb.Workflow:
        """Continue a failed (or timed out) or cancelled run in place: completed steps keep
        their results, the others run again (``FAILED_PRECONDITION`` if the run has not
        finished, completed, or is a saga whose compensations have run). The deadline moves
        by ``deadline_extension_seconds`` (default: the run's timeout)."""
        req = pb.RedriveWorkflowRequest(id=id)
        if deadline_extension_seconds is not None:
            req.deadline_extension.FromMilliseconds(round(deadline_extension_seconds * 1000))
        res: pb.RedriveWorkflowResponse = self._stub.RedriveWorkflow(req, timeout=self._timeout, metadata=self._md())
        return res.workflow

    def rerun(
        self,
        id: str,
        from_steps: Iterable[str],
        *,
        context: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
        request_id: str = "",
    ) -> pb.RerunWorkflowResponse:
        """Start a NEW run of a finished run's workflow (its ``rerun_of`` is ``id``) that runs
        ``from_steps`` and every step downstream of them again; the other completed steps are
        copied with their results (``copied_from``), not called. ``context`` and ``labels``
        default to the original's (``labels={}``: none). Returns the response: ``.workflow`` and
        ``.deduplicated`` (a repeated ``request_id``)."""
        req = pb.RerunWorkflowRequest(id=id, from_steps=list(from_steps), request_id=request_id)
        if context is not None:
            req.context.SetInParent()
            req.context.update(dict(context))
        if labels is not None:
            req.labels.SetInParent()
            req.labels.labels.update(dict(labels))
        res: pb.RerunWorkflowResponse = self._stub.RerunWorkflow(req, timeout=self._timeout, metadata=self._md())
        return res

    def pause(self, id: str, reason: str = "", hold_deadline: bool = False) -> pb.Workflow:
        """Pause a pending or running run: nothing new starts until ``resume`` (calls in
        flight finish and are recorded). ``hold_deadline`` stops the deadline clock while
        paused (resume extends the deadline). ``FAILED_PRECONDITION`` (``RUN_PAUSED``,
        ``RUN_FINISHED``, ``RUN_COMPENSATING``) if the run cannot be paused."""
        res: pb.PauseWorkflowResponse = self._stub.PauseWorkflow(
            pb.PauseWorkflowRequest(id=id, reason=reason, hold_deadline=hold_deadline), timeout=self._timeout, metadata=self._md()
        )
        return res.workflow

    def resume(self, id: str) -> pb.Workflow:
        """Resume a paused run where it stopped (``FAILED_PRECONDITION`` ``RUN_NOT_PAUSED`` otherwise)."""
        res: pb.ResumeWorkflowResponse = self._stub.ResumeWorkflow(
            pb.ResumeWorkflowRequest(id=id), timeout=self._timeout, metadata=self._md()
        )
        return res.workflow

    def redeliver_webhook(self, id: str) -> pb.Workflow:
        """Deliver a finished run's on_complete / on_error webhook again (one that failed, or was delivered)."""
        res: pb.RedeliverWebhookResponse = self._stub.RedeliverWebhook(
            pb.RedeliverWebhookRequest(id=id), timeout=self._timeout, metadata=self._md()
        )
        return res.workflow

    def list_workflows(
        self,
        *,
        states: Iterable[pb.WorkflowState] = (),
        workflow_id: str = "",
        page_size: int = 0,
        page_token: str = "",
        view: pb.WorkflowView = pb.WORKFLOW_VIEW_BASIC,
        labels: Mapping[str, str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> pb.ListWorkflowsResponse:
        """One page of runs, newest first (``.workflows``, ``.next_page_token``).

        The basic view (default) leaves out ``context``, ``results`` and ``steps``;
        ``view=pb.WORKFLOW_VIEW_FULL`` returns each run as ``get_workflow`` does.
        ``labels`` keeps runs having every given pair; ``created_after`` (inclusive) and
        ``created_before`` (exclusive) bound the creation time (timezone-aware datetimes).
        """
        req = pb.ListWorkflowsRequest(
            states=list(states), workflow_id=workflow_id, page_size=page_size, page_token=page_token, view=view,
            labels=dict(labels or {}),
        )
        if created_after is not None:
            req.created_after.FromDatetime(created_after)
        if created_before is not None:
            req.created_before.FromDatetime(created_before)
        return cast(pb.ListWorkflowsResponse, self._stub.ListWorkflows(req, timeout=self._timeout, metadata=self._md()))

    def delete_workflow(self, id: str) -> None:
        """Delete a finished run with its events (``FAILED_PRECONDITION`` if it has not finished)."""
        self._stub.DeleteWorkflow(pb.DeleteWorkflowRequest(id=id), timeout=self._timeout, metadata=self._md())

    def list_events(self, run_id: str, *, page_size: int = 0) -> Iterator[pb.WorkflowEvent]:
        """A run's whole event log, oldest first (fetched page by page)."""
        token = ""
        while True:
            page: pb.ListWorkflowEventsResponse = self._stub.ListWorkflowEvents(
                pb.ListWorkflowEventsRequest(id=run_id, page_size=page_size, page_token=token),
                timeout=self._timeout,
                metadata=self._md(),
            )
            yield from page.events
            token = page.next_page_token
            if not token:
                return

    # ---- streams ----------------------------------------------------------------

    def watch(
        self, run_id: str, after_sequence: int = 0, *, timeout: float | None = None
    ) -> Iterator[pb.WatchWorkflowResponse]:
        """Stream a run: a ``snapshot`` first (unless ``after_sequence`` > 0), then an
        ``event`` per transition (sequences 1, 2, 3, … without gaps) and, on idle
        streams, ``heartbeat``s. Ends after the run's terminal event (or right after
        the snapshot of a finished run).

        To resume after a disconnect, call again with ``after_sequence`` = the last
        sequence seen (``snapshot.last_sequence`` if no event came yet). ``timeout``
        is a deadline for the whole stream. Closing the generator cancels the call.
        """
        call = self._stub.WatchWorkflow(
            pb.WatchWorkflowRequest(id=run_id, after_sequence=after_sequence),
            timeout=timeout,
            metadata=self._md(),
        )
        try:
            for msg in call:
                yield msg
                if msg.WhichOneof("kind") == "event" and is_terminal_event(msg.event):
                    return
        finally:
            call.cancel()

    def watch_workflows(
        self, *, states: Iterable[pb.WorkflowState] = (), workflow_id: str = "", timeout: float | None = None
    ) -> Iterator[pb.WatchWorkflowsResponse]:
        """Run-level transitions of all runs (optionally filtered), until closed."""
        call = self._stub.WatchWorkflows(
            pb.WatchWorkflowsRequest(states=list(states), workflow_id=workflow_id),
            timeout=timeout,
            metadata=self._md(),
        )
        try:
            yield from call
        finally:
            call.cancel()
