"""Python client for Weft: the WorkflowService over gRPC, a run watcher, and
Standard Webhooks request verification for step handlers."""

from ._proto.weft.v1.workflow_pb2 import (
    Backoff,
    CompensationState,
    StepDefinition,
    StepState,
    WatchWorkflowResponse,
    Workflow,
    WorkflowEvent,
    WorkflowState,
)

from .client import TERMINAL_RUN_STATES, Client, format_event, is_terminal_event
from .convert import duration, join_policy, retry_policy, step, struct, to_python
from .errors import error_info, field_violations, rich_status
from .signing import (
    DEFAULT_TOLERANCE_SECONDS,
    SECRETS_ENV_VAR,
    SignatureError,
    parse_secret_list,
    secrets_from_env,
    sign,
    sign_headers,
    verify_request,
)

__version__ = "0.1.0"

__all__ = [
    "Backoff",
    "Client",
    "CompensationState",
    "DEFAULT_TOLERANCE_SECONDS",
    "SECRETS_ENV_VAR",
    "SignatureError",
    "StepDefinition",
    "StepState",
    "TERMINAL_RUN_STATES",
    "WatchWorkflowResponse",
    "Workflow",
    "WorkflowEvent",
    "WorkflowState",
    "duration",
    "error_info",
    "field_violations",
    "format_event",
    "is_terminal_event",
    "join_policy",
    "parse_secret_list",
    "retry_policy",
    "rich_status",
    "secrets_from_env",
    "sign",
    "sign_headers",
    "step",
    "struct",
    "to_python",
    "verify_request",
]
