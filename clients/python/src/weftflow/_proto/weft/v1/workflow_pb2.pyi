import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PreviousSteps(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PREVIOUS_STEPS_UNSPECIFIED: _ClassVar[PreviousSteps]
    PREVIOUS_STEPS_ALL: _ClassVar[PreviousSteps]
    PREVIOUS_STEPS_DEPENDENCIES: _ClassVar[PreviousSteps]
    PREVIOUS_STEPS_ANCESTORS: _ClassVar[PreviousSteps]
    PREVIOUS_STEPS_NONE: _ClassVar[PreviousSteps]

class Backoff(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKOFF_UNSPECIFIED: _ClassVar[Backoff]
    BACKOFF_EXPONENTIAL: _ClassVar[Backoff]
    BACKOFF_LINEAR: _ClassVar[Backoff]
    BACKOFF_FIXED: _ClassVar[Backoff]

class WorkflowState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKFLOW_STATE_UNSPECIFIED: _ClassVar[WorkflowState]
    WORKFLOW_STATE_PENDING: _ClassVar[WorkflowState]
    WORKFLOW_STATE_RUNNING: _ClassVar[WorkflowState]
    WORKFLOW_STATE_COMPLETED: _ClassVar[WorkflowState]
    WORKFLOW_STATE_FAILED: _ClassVar[WorkflowState]
    WORKFLOW_STATE_CANCELLED: _ClassVar[WorkflowState]
    WORKFLOW_STATE_COMPENSATING: _ClassVar[WorkflowState]
    WORKFLOW_STATE_PAUSED: _ClassVar[WorkflowState]

class StepState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_STATE_UNSPECIFIED: _ClassVar[StepState]
    STEP_STATE_PENDING: _ClassVar[StepState]
    STEP_STATE_RUNNING: _ClassVar[StepState]
    STEP_STATE_RETRY_WAIT: _ClassVar[StepState]
    STEP_STATE_COMPLETED: _ClassVar[StepState]
    STEP_STATE_FAILED: _ClassVar[StepState]
    STEP_STATE_CANCELLED: _ClassVar[StepState]
    STEP_STATE_SKIPPED: _ClassVar[StepState]

class CompensationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPENSATION_STATE_UNSPECIFIED: _ClassVar[CompensationState]
    COMPENSATION_STATE_PENDING: _ClassVar[CompensationState]
    COMPENSATION_STATE_RUNNING: _ClassVar[CompensationState]
    COMPENSATION_STATE_RETRY_WAIT: _ClassVar[CompensationState]
    COMPENSATION_STATE_SUCCEEDED: _ClassVar[CompensationState]
    COMPENSATION_STATE_FAILED: _ClassVar[CompensationState]

class WebhookState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WEBHOOK_STATE_UNSPECIFIED: _ClassVar[WebhookState]
    WEBHOOK_STATE_PENDING: _ClassVar[WebhookState]
    WEBHOOK_STATE_DELIVERING: _ClassVar[WebhookState]
    WEBHOOK_STATE_RETRY_WAIT: _ClassVar[WebhookState]
    WEBHOOK_STATE_DELIVERED: _ClassVar[WebhookState]
    WEBHOOK_STATE_FAILED: _ClassVar[WebhookState]

class WorkflowView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WORKFLOW_VIEW_UNSPECIFIED: _ClassVar[WorkflowView]
    WORKFLOW_VIEW_BASIC: _ClassVar[WorkflowView]
    WORKFLOW_VIEW_FULL: _ClassVar[WorkflowView]

class BulkAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BULK_ACTION_UNSPECIFIED: _ClassVar[BulkAction]
    BULK_ACTION_CANCEL: _ClassVar[BulkAction]
    BULK_ACTION_REDRIVE: _ClassVar[BulkAction]
    BULK_ACTION_PAUSE: _ClassVar[BulkAction]
    BULK_ACTION_RESUME: _ClassVar[BulkAction]
PREVIOUS_STEPS_UNSPECIFIED: PreviousSteps
PREVIOUS_STEPS_ALL: PreviousSteps
PREVIOUS_STEPS_DEPENDENCIES: PreviousSteps
PREVIOUS_STEPS_ANCESTORS: PreviousSteps
PREVIOUS_STEPS_NONE: PreviousSteps
BACKOFF_UNSPECIFIED: Backoff
BACKOFF_EXPONENTIAL: Backoff
BACKOFF_LINEAR: Backoff
BACKOFF_FIXED: Backoff
WORKFLOW_STATE_UNSPECIFIED: WorkflowState
WORKFLOW_STATE_PENDING: WorkflowState
WORKFLOW_STATE_RUNNING: WorkflowState
WORKFLOW_STATE_COMPLETED: WorkflowState
WORKFLOW_STATE_FAILED: WorkflowState
WORKFLOW_STATE_CANCELLED: WorkflowState
WORKFLOW_STATE_COMPENSATING: WorkflowState
WORKFLOW_STATE_PAUSED: WorkflowState
STEP_STATE_UNSPECIFIED: StepState
STEP_STATE_PENDING: StepState
STEP_STATE_RUNNING: StepState
STEP_STATE_RETRY_WAIT: StepState
STEP_STATE_COMPLETED: StepState
STEP_STATE_FAILED: StepState
STEP_STATE_CANCELLED: StepState
STEP_STATE_SKIPPED: StepState
COMPENSATION_STATE_UNSPECIFIED: CompensationState
COMPENSATION_STATE_PENDING: CompensationState
COMPENSATION_STATE_RUNNING: CompensationState
COMPENSATION_STATE_RETRY_WAIT: CompensationState
COMPENSATION_STATE_SUCCEEDED: CompensationState
COMPENSATION_STATE_FAILED: CompensationState
WEBHOOK_STATE_UNSPECIFIED: WebhookState
WEBHOOK_STATE_PENDING: WebhookState
WEBHOOK_STATE_DELIVERING: WebhookState
WEBHOOK_STATE_RETRY_WAIT: WebhookState
WEBHOOK_STATE_DELIVERED: WebhookState
WEBHOOK_STATE_FAILED: WebhookState
WORKFLOW_VIEW_UNSPECIFIED: WorkflowView
WORKFLOW_VIEW_BASIC: WorkflowView
WORKFLOW_VIEW_FULL: WorkflowView
BULK_ACTION_UNSPECIFIED: BulkAction
BULK_ACTION_CANCEL: BulkAction
BULK_ACTION_REDRIVE: BulkAction
BULK_ACTION_PAUSE: BulkAction
BULK_ACTION_RESUME: BulkAction

class StepDefinition(_message.Message):
    __slots__ = ("id", "url", "depends_on", "parallel", "retries", "timeout", "compensation", "join", "for_each", "max_concurrency", "item_failures", "concurrency", "previous_steps")
    ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    COMPENSATION_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    FOR_EACH_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    ITEM_FAILURES_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STEPS_FIELD_NUMBER: _ClassVar[int]
    id: str
    url: str
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    parallel: bool
    retries: RetryPolicy
    timeout: _duration_pb2.Duration
    compensation: str
    join: JoinPolicy
    for_each: str
    max_concurrency: int
    item_failures: JoinPolicy
    concurrency: ConcurrencyLimit
    previous_steps: PreviousSteps
    def __init__(self, id: _Optional[str] = ..., url: _Optional[str] = ..., depends_on: _Optional[_Iterable[str]] = ..., parallel: _Optional[bool] = ..., retries: _Optional[_Union[RetryPolicy, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., compensation: _Optional[str] = ..., join: _Optional[_Union[JoinPolicy, _Mapping]] = ..., for_each: _Optional[str] = ..., max_concurrency: _Optional[int] = ..., item_failures: _Optional[_Union[JoinPolicy, _Mapping]] = ..., concurrency: _Optional[_Union[ConcurrencyLimit, _Mapping]] = ..., previous_steps: _Optional[_Union[PreviousSteps, str]] = ...) -> None: ...

class ConcurrencyLimit(_message.Message):
    __slots__ = ("key", "limit")
    KEY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    key: str
    limit: int
    def __init__(self, key: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class JoinPolicy(_message.Message):
    __slots__ = ("all", "all_settled", "at_least", "tolerated_failure_percent", "any")
    ALL_FIELD_NUMBER: _ClassVar[int]
    ALL_SETTLED_FIELD_NUMBER: _ClassVar[int]
    AT_LEAST_FIELD_NUMBER: _ClassVar[int]
    TOLERATED_FAILURE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    ANY_FIELD_NUMBER: _ClassVar[int]
    all: _empty_pb2.Empty
    all_settled: _empty_pb2.Empty
    at_least: int
    tolerated_failure_percent: float
    any: _empty_pb2.Empty
    def __init__(self, all: _Optional[_Union[_empty_pb2.Empty, _Mapping]] = ..., all_settled: _Optional[_Union[_empty_pb2.Empty, _Mapping]] = ..., at_least: _Optional[int] = ..., tolerated_failure_percent: _Optional[float] = ..., any: _Optional[_Union[_empty_pb2.Empty, _Mapping]] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_attempts", "backoff", "initial_interval", "max_interval", "jitter")
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_FIELD_NUMBER: _ClassVar[int]
    INITIAL_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    MAX_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    JITTER_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    backoff: Backoff
    initial_interval: _duration_pb2.Duration
    max_interval: _duration_pb2.Duration
    jitter: float
    def __init__(self, max_attempts: _Optional[int] = ..., backoff: _Optional[_Union[Backoff, str]] = ..., initial_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., jitter: _Optional[float] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("message", "reason", "http_status", "attempt", "retryable", "step_id")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    message: str
    reason: str
    http_status: int
    attempt: int
    retryable: bool
    step_id: str
    def __init__(self, message: _Optional[str] = ..., reason: _Optional[str] = ..., http_status: _Optional[int] = ..., attempt: _Optional[int] = ..., retryable: _Optional[bool] = ..., step_id: _Optional[str] = ...) -> None: ...

class StepStatus(_message.Message):
    __slots__ = ("id", "state", "started_at", "completed_at", "attempts", "result", "error", "next_attempt_at", "definition", "compensation_state", "compensation_attempts", "compensation_error", "compensation_started_at", "compensation_completed_at", "items", "item_failures", "waiting_for", "concurrency_key", "copied_from")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    COMPENSATION_STATE_FIELD_NUMBER: _ClassVar[int]
    COMPENSATION_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    COMPENSATION_ERROR_FIELD_NUMBER: _ClassVar[int]
    COMPENSATION_STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPENSATION_COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ITEM_FAILURES_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    COPIED_FROM_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: StepState
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    attempts: int
    result: _struct_pb2.Value
    error: ErrorDetail
    next_attempt_at: _timestamp_pb2.Timestamp
    definition: StepDefinition
    compensation_state: CompensationState
    compensation_attempts: int
    compensation_error: ErrorDetail
    compensation_started_at: _timestamp_pb2.Timestamp
    compensation_completed_at: _timestamp_pb2.Timestamp
    items: ItemCounts
    item_failures: _containers.RepeatedCompositeFieldContainer[ItemStatus]
    waiting_for: str
    concurrency_key: str
    copied_from: str
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[StepState, str]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[int] = ..., result: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[_Union[ErrorDetail, _Mapping]] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., definition: _Optional[_Union[StepDefinition, _Mapping]] = ..., compensation_state: _Optional[_Union[CompensationState, str]] = ..., compensation_attempts: _Optional[int] = ..., compensation_error: _Optional[_Union[ErrorDetail, _Mapping]] = ..., compensation_started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., compensation_completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., items: _Optional[_Union[ItemCounts, _Mapping]] = ..., item_failures: _Optional[_Iterable[_Union[ItemStatus, _Mapping]]] = ..., waiting_for: _Optional[str] = ..., concurrency_key: _Optional[str] = ..., copied_from: _Optional[str] = ...) -> None: ...

class ItemCounts(_message.Message):
    __slots__ = ("total", "pending", "running", "retry_wait", "completed", "failed", "cancelled")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    RETRY_WAIT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    total: int
    pending: int
    running: int
    retry_wait: int
    completed: int
    failed: int
    cancelled: int
    def __init__(self, total: _Optional[int] = ..., pending: _Optional[int] = ..., running: _Optional[int] = ..., retry_wait: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., cancelled: _Optional[int] = ...) -> None: ...

class ItemStatus(_message.Message):
    __slots__ = ("index", "state", "attempts", "error", "result", "started_at", "completed_at", "next_attempt_at")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    index: int
    state: StepState
    attempts: int
    error: ErrorDetail
    result: _struct_pb2.Value
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    next_attempt_at: _timestamp_pb2.Timestamp
    def __init__(self, index: _Optional[int] = ..., state: _Optional[_Union[StepState, str]] = ..., attempts: _Optional[int] = ..., error: _Optional[_Union[ErrorDetail, _Mapping]] = ..., result: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WebhookDelivery(_message.Message):
    __slots__ = ("url", "event_id", "event_type", "state", "attempts", "last_error", "next_attempt_at", "delivered_at", "give_up_at")
    URL_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    GIVE_UP_AT_FIELD_NUMBER: _ClassVar[int]
    url: str
    event_id: str
    event_type: str
    state: WebhookState
    attempts: int
    last_error: ErrorDetail
    next_attempt_at: _timestamp_pb2.Timestamp
    delivered_at: _timestamp_pb2.Timestamp
    give_up_at: _timestamp_pb2.Timestamp
    def __init__(self, url: _Optional[str] = ..., event_id: _Optional[str] = ..., event_type: _Optional[str] = ..., state: _Optional[_Union[WebhookState, str]] = ..., attempts: _Optional[int] = ..., last_error: _Optional[_Union[ErrorDetail, _Mapping]] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., give_up_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Workflow(_message.Message):
    __slots__ = ("id", "workflow_id", "state", "created_at", "started_at", "completed_at", "current_steps", "completed_steps", "failed_steps", "context", "results", "steps", "error", "on_complete", "on_error", "timeout", "deadline", "saga", "base_url", "request_id", "last_sequence", "compensation_failed", "webhook", "concurrency", "priority", "waiting_for", "concurrency_key", "previous_steps", "labels", "rerun_of", "paused_at", "pause_reason", "deadline_held")
    class ResultsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_STEPS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_STEPS_FIELD_NUMBER: _ClassVar[int]
    FAILED_STEPS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ON_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ON_ERROR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    SAGA_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    COMPENSATION_FAILED_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STEPS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_FIELD_NUMBER: _ClassVar[int]
    PAUSED_AT_FIELD_NUMBER: _ClassVar[int]
    PAUSE_REASON_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_HELD_FIELD_NUMBER: _ClassVar[int]
    id: str
    workflow_id: str
    state: WorkflowState
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    current_steps: _containers.RepeatedScalarFieldContainer[str]
    completed_steps: _containers.RepeatedScalarFieldContainer[str]
    failed_steps: _containers.RepeatedScalarFieldContainer[str]
    context: _struct_pb2.Struct
    results: _containers.MessageMap[str, _struct_pb2.Value]
    steps: _containers.RepeatedCompositeFieldContainer[StepStatus]
    error: ErrorDetail
    on_complete: str
    on_error: str
    timeout: _duration_pb2.Duration
    deadline: _timestamp_pb2.Timestamp
    saga: bool
    base_url: str
    request_id: str
    last_sequence: int
    compensation_failed: bool
    webhook: WebhookDelivery
    concurrency: ConcurrencyLimit
    priority: int
    waiting_for: str
    concurrency_key: str
    previous_steps: PreviousSteps
    labels: _containers.ScalarMap[str, str]
    rerun_of: str
    paused_at: _timestamp_pb2.Timestamp
    pause_reason: str
    deadline_held: bool
    def __init__(self, id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., state: _Optional[_Union[WorkflowState, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current_steps: _Optional[_Iterable[str]] = ..., completed_steps: _Optional[_Iterable[str]] = ..., failed_steps: _Optional[_Iterable[str]] = ..., context: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., results: _Optional[_Mapping[str, _struct_pb2.Value]] = ..., steps: _Optional[_Iterable[_Union[StepStatus, _Mapping]]] = ..., error: _Optional[_Union[ErrorDetail, _Mapping]] = ..., on_complete: _Optional[str] = ..., on_error: _Optional[str] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., saga: _Optional[bool] = ..., base_url: _Optional[str] = ..., request_id: _Optional[str] = ..., last_sequence: _Optional[int] = ..., compensation_failed: _Optional[bool] = ..., webhook: _Optional[_Union[WebhookDelivery, _Mapping]] = ..., concurrency: _Optional[_Union[ConcurrencyLimit, _Mapping]] = ..., priority: _Optional[int] = ..., waiting_for: _Optional[str] = ..., concurrency_key: _Optional[str] = ..., previous_steps: _Optional[_Union[PreviousSteps, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., rerun_of: _Optional[str] = ..., paused_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., pause_reason: _Optional[str] = ..., deadline_held: _Optional[bool] = ...) -> None: ...

class WorkflowEvent(_message.Message):
    __slots__ = ("sequence", "time", "run_id", "workflow_id", "step_id", "run", "step", "compensation", "item", "attempt", "error", "result", "item_index", "waiting_for")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    COMPENSATION_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ITEM_INDEX_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time: _timestamp_pb2.Timestamp
    run_id: str
    workflow_id: str
    step_id: str
    run: RunTransition
    step: StepTransition
    compensation: CompensationTransition
    item: StepTransition
    attempt: int
    error: ErrorDetail
    result: _struct_pb2.Value
    item_index: int
    waiting_for: str
    def __init__(self, sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., run_id: _Optional[str] = ..., workflow_id: _Optional[str] = ..., step_id: _Optional[str] = ..., run: _Optional[_Union[RunTransition, _Mapping]] = ..., step: _Optional[_Union[StepTransition, _Mapping]] = ..., compensation: _Optional[_Union[CompensationTransition, _Mapping]] = ..., item: _Optional[_Union[StepTransition, _Mapping]] = ..., attempt: _Optional[int] = ..., error: _Optional[_Union[ErrorDetail, _Mapping]] = ..., result: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., item_index: _Optional[int] = ..., waiting_for: _Optional[str] = ...) -> None: ...

class RunTransition(_message.Message):
    __slots__ = ("from_state", "to_state", "redriven", "rerun_of")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    REDRIVEN_FIELD_NUMBER: _ClassVar[int]
    RERUN_OF_FIELD_NUMBER: _ClassVar[int]
    from_state: WorkflowState
    to_state: WorkflowState
    redriven: bool
    rerun_of: str
    def __init__(self, from_state: _Optional[_Union[WorkflowState, str]] = ..., to_state: _Optional[_Union[WorkflowState, str]] = ..., redriven: _Optional[bool] = ..., rerun_of: _Optional[str] = ...) -> None: ...

class StepTransition(_message.Message):
    __slots__ = ("from_state", "to_state")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    from_state: StepState
    to_state: StepState
    def __init__(self, from_state: _Optional[_Union[StepState, str]] = ..., to_state: _Optional[_Union[StepState, str]] = ...) -> None: ...

class CompensationTransition(_message.Message):
    __slots__ = ("from_state", "to_state")
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    from_state: CompensationState
    to_state: CompensationState
    def __init__(self, from_state: _Optional[_Union[CompensationState, str]] = ..., to_state: _Optional[_Union[CompensationState, str]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("time",)
    TIME_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateWorkflowRequest(_message.Message):
    __slots__ = ("id", "steps", "context", "on_complete", "on_error", "timeout", "saga", "base_url", "request_id", "concurrency", "priority", "previous_steps", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ON_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    ON_ERROR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SAGA_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STEPS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    id: str
    steps: _containers.RepeatedCompositeFieldContainer[StepDefinition]
    context: _struct_pb2.Struct
    on_complete: str
    on_error: str
    timeout: _duration_pb2.Duration
    saga: bool
    base_url: str
    request_id: str
    concurrency: ConcurrencyLimit
    priority: int
    previous_steps: PreviousSteps
    labels: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[StepDefinition, _Mapping]]] = ..., context: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., on_complete: _Optional[str] = ..., on_error: _Optional[str] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., saga: _Optional[bool] = ..., base_url: _Optional[str] = ..., request_id: _Optional[str] = ..., concurrency: _Optional[_Union[ConcurrencyLimit, _Mapping]] = ..., priority: _Optional[int] = ..., previous_steps: _Optional[_Union[PreviousSteps, str]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateWorkflowResponse(_message.Message):
    __slots__ = ("workflow", "deduplicated")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    DEDUPLICATED_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    deduplicated: bool
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ..., deduplicated: _Optional[bool] = ...) -> None: ...

class GetWorkflowRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetWorkflowResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ...) -> None: ...

class ListWorkflowsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "states", "workflow_id", "view", "labels", "created_after", "created_before")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    states: _containers.RepeatedScalarFieldContainer[WorkflowState]
    workflow_id: str
    view: WorkflowView
    labels: _containers.ScalarMap[str, str]
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., states: _Optional[_Iterable[_Union[WorkflowState, str]]] = ..., workflow_id: _Optional[str] = ..., view: _Optional[_Union[WorkflowView, str]] = ..., labels: _Optional[_Mapping[str, str]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListWorkflowsResponse(_message.Message):
    __slots__ = ("workflows", "next_page_token")
    WORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    workflows: _containers.RepeatedCompositeFieldContainer[Workflow]
    next_page_token: str
    def __init__(self, workflows: _Optional[_Iterable[_Union[Workflow, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelWorkflowRequest(_message.Message):
    __slots__ = ("id", "reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelWorkflowResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ...) -> None: ...

class WatchWorkflowRequest(_message.Message):
    __slots__ = ("id", "after_sequence")
    ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    id: str
    after_sequence: int
    def __init__(self, id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class WatchWorkflowResponse(_message.Message):
    __slots__ = ("snapshot", "event", "heartbeat")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    snapshot: Workflow
    event: WorkflowEvent
    heartbeat: Heartbeat
    def __init__(self, snapshot: _Optional[_Union[Workflow, _Mapping]] = ..., event: _Optional[_Union[WorkflowEvent, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class WatchWorkflowsRequest(_message.Message):
    __slots__ = ("states", "workflow_id", "labels", "created_after", "created_before")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATES_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[WorkflowState]
    workflow_id: str
    labels: _containers.ScalarMap[str, str]
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    def __init__(self, states: _Optional[_Iterable[_Union[WorkflowState, str]]] = ..., workflow_id: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchWorkflowsResponse(_message.Message):
    __slots__ = ("event", "heartbeat")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    event: WorkflowEvent
    heartbeat: Heartbeat
    def __init__(self, event: _Optional[_Union[WorkflowEvent, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class ListWorkflowEventsRequest(_message.Message):
    __slots__ = ("id", "page_size", "page_token")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    id: str
    page_size: int
    page_token: str
    def __init__(self, id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListWorkflowEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[WorkflowEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[WorkflowEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListStepItemsRequest(_message.Message):
    __slots__ = ("id", "step_id", "page_size", "page_token")
    ID_FIELD_NUMBER: _ClassVar[int]
    STEP_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    id: str
    step_id: str
    page_size: int
    page_token: str
    def __init__(self, id: _Optional[str] = ..., step_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStepItemsResponse(_message.Message):
    __slots__ = ("items", "next_page_token")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ItemStatus]
    next_page_token: str
    def __init__(self, items: _Optional[_Iterable[_Union[ItemStatus, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RedriveWorkflowRequest(_message.Message):
    __slots__ = ("id", "deadline_extension")
    ID_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_EXTENSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    deadline_extension: _duration_pb2.Duration
    def __init__(self, id: _Optional[str] = ..., deadline_extension: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RedriveWorkflowResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ...) -> None: ...

class RedeliverWebhookRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class RedeliverWebhookResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ...) -> None: ...

class DeleteWorkflowRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteWorkflowResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RerunWorkflowRequest(_message.Message):
    __slots__ = ("id", "from_steps", "context", "request_id", "labels")
    ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STEPS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    id: str
    from_steps: _containers.RepeatedScalarFieldContainer[str]
    context: _struct_pb2.Struct
    request_id: str
    labels: LabelMap
    def __init__(self, id: _Optional[str] = ..., from_steps: _Optional[_Iterable[str]] = ..., context: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ..., labels: _Optional[_Union[LabelMap, _Mapping]] = ...) -> None: ...

class LabelMap(_message.Message):
    __slots__ = ("labels",)
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LABELS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.ScalarMap[str, str]
    def __init__(self, labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RerunWorkflowResponse(_message.Message):
    __slots__ = ("workflow", "deduplicated")
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    DEDUPLICATED_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    deduplicated: bool
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ..., deduplicated: _Optional[bool] = ...) -> None: ...

class PauseWorkflowRequest(_message.Message):
    __slots__ = ("id", "reason", "hold_deadline")
    ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    HOLD_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    id: str
    reason: str
    hold_deadline: bool
    def __init__(self, id: _Optional[str] = ..., reason: _Optional[str] = ..., hold_deadline: _Optional[bool] = ...) -> None: ...

class PauseWorkflowResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ...) -> None: ...

class ResumeWorkflowRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ResumeWorkflowResponse(_message.Message):
    __slots__ = ("workflow",)
    WORKFLOW_FIELD_NUMBER: _ClassVar[int]
    workflow: Workflow
    def __init__(self, workflow: _Optional[_Union[Workflow, _Mapping]] = ...) -> None: ...

class BulkWorkflowActionRequest(_message.Message):
    __slots__ = ("states", "workflow_id", "labels", "created_after", "created_before", "all", "action", "dry_run", "reason", "page_token")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATES_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[WorkflowState]
    workflow_id: str
    labels: _containers.ScalarMap[str, str]
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    all: bool
    action: BulkAction
    dry_run: bool
    reason: str
    page_token: str
    def __init__(self, states: _Optional[_Iterable[_Union[WorkflowState, str]]] = ..., workflow_id: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., all: _Optional[bool] = ..., action: _Optional[_Union[BulkAction, str]] = ..., dry_run: _Optional[bool] = ..., reason: _Optional[str] = ..., page_token: _Optional[str] = ...) -> None: ...

class BulkWorkflowActionResponse(_message.Message):
    __slots__ = ("matched", "affected", "skipped", "more", "next_page_token")
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    matched: int
    affected: int
    skipped: int
    more: bool
    next_page_token: str
    def __init__(self, matched: _Optional[int] = ..., affected: _Optional[int] = ..., skipped: _Optional[int] = ..., more: _Optional[bool] = ..., next_page_token: _Optional[str] = ...) -> None: ...
