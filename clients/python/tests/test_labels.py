"""Labels, list filters and delete_workflow against a real server."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from weftflow import Client, WorkflowState


def _wait_finished(client: Client, run_id: str) -> None:
    end = time.monotonic() + 60
    while client.get_workflow(run_id).state not in (
        WorkflowState.WORKFLOW_STATE_COMPLETED,
        WorkflowState.WORKFLOW_STATE_FAILED,
        WorkflowState.WORKFLOW_STATE_CANCELLED,
    ):
        assert time.monotonic() < end, "run did not finish"
        time.sleep(0.05)


def test_labels_filters_and_delete(client: Client, handlers):
    tag = uuid.uuid4().hex[:12]
    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    a = client.create_workflow("py-labels", [{"id": "a", "url": handlers.url("/a")}], labels={"tag": tag, "n": "1"}).workflow
    b = client.create_workflow("py-labels", [{"id": "a", "url": handlers.url("/a")}], labels={"tag": tag, "n": "2"}).workflow
    assert dict(a.labels) == {"tag": tag, "n": "1"}
    _wait_finished(client, a.id)
    _wait_finished(client, b.id)
    assert [w.id for w in client.list_workflows(labels={"tag": tag}).workflows] == [b.id, a.id]
    assert [w.id for w in client.list_workflows(labels={"tag": tag, "n": "1"}, created_after=since).workflows] == [a.id]
    assert list(client.list_workflows(labels={"tag": tag}, created_before=since).workflows) == []

    client.delete_workflow(a.id)
    assert [w.id for w in client.list_workflows(labels={"tag": tag}).workflows] == [b.id]
    with pytest.raises(grpc.RpcError) as err:
        client.delete_workflow(a.id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as bad:
        client.create_workflow("py-labels", [{"id": "a", "url": handlers.url("/a")}], labels={"Bad": "x"})
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert 'labels["Bad"]' in (bad.value.details() or "")
