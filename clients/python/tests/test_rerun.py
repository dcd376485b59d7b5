"""Client.rerun against a real server: a new run from a step of a finished one."""

from __future__ import annotations

import uuid

import grpc
import pytest

from weftflow import Client, WorkflowState, error_info, field_violations, to_python


def test_rerun_calls_only_the_step_and_what_follows(client: Client, handlers):
    prefix = "/rerun-" + uuid.uuid4().hex[:10]
    handlers.on(f"{prefix}/echo", lambda call: {"json": {"success": True, "result": {"run": call.body["runId"], "context": call.body["context"]}}})
    run = client.create_workflow(
        "py-rerun",
        [
            {"id": "a", "url": f"{prefix}/echo"},
            {"id": "b", "url": f"{prefix}/echo", "depends_on": ["a"]},
            {"id": "c", "url": f"{prefix}/echo", "depends_on": ["b"]},
        ],
        base_url=handlers.base_url,
        context={"v": 1},
        labels={"team": "py"},
    ).workflow
    list(client.watch(run.id, timeout=120))
    assert client.get_workflow(run.id).state == WorkflowState.WORKFLOW_STATE_COMPLETED

    key = "py-rerun-" + uuid.uuid4().hex[:10]
    res = client.rerun(run.id, ["b"], context={"v": 2}, request_id=key)
    assert not res.deduplicated
    new = res.workflow
    assert new.id != run.id and new.rerun_of == run.id
    assert dict(new.labels) == {"team": "py"}
    list(client.watch(new.id, timeout=120))
    done = client.get_workflow(new.id)
    assert done.state == WorkflowState.WORKFLOW_STATE_COMPLETED
    assert [s.copied_from for s in done.steps] == [run.id, "", ""]
    assert to_python(done.results["a"]) == {"run": run.id, "context": {"v": 1}}
    assert to_python(done.results["c"]) == {"run": new.id, "context": {"v": 2}}
    assert sorted(c.body["stepId"] for c in handlers.calls_for(new.id)) == ["b", "c"]

    again = client.rerun(run.id, ["b"], context={"v": 2}, request_id=key)
    assert again.deduplicated and again.workflow.id == new.id
    assert dict(client.rerun(run.id, ["c"], labels={}).workflow.labels) == {}

    with pytest.raises(grpc.RpcError) as info:
        client.rerun(run.id, ["b"], request_id=key, context={"v": 3})
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_info(info.value).reason == "IDEMPOTENCY_KEY_REUSED"
    with pytest.raises(grpc.RpcError) as bad:
        client.rerun(run.id, ["nope"])
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in field_violations(bad.value)] == ["from_steps[0]"]
