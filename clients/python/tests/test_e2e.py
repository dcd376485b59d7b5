"""End to end: a real Weft server, Python step handlers that verify every
request, and weftflow's Client and watcher."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest

from weftflow import (
    Client,
    StepState,
    WorkflowState,
    error_info,
    field_violations,
    format_event,
    is_terminal_event,
    join_policy,
    step,
    to_python,
    verify_request,
)
from weftflow.convert import to_step

URL = "https://h.test/x"


def _unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def _kinds(messages):
    return [m.WhichOneof("kind") for m in messages]


# ---- the product's batch fan-out / fan-in -----------------------------------------------


def test_batch_fan_out_fan_in_watched_to_completion(client: Client, handlers, weft_server):
    counts = {"process-item-1": 4, "process-item-2": 7, "process-item-3": 2}

    handlers.on(
        "/api/jobs/prepare-batch",
        lambda call: {"json": {"success": True, "result": {"items": call.body["context"]["items"]}}, "delay": 0.2},
    )
    handlers.on(
        "/api/jobs/process-item",
        lambda call: {
            "json": {"success": True, "result": {"success": True, "processedCount": counts[call.body["stepId"]]}},
            "delay": 0.3,
        },
    )

    def finalize_batch(call):
        # The fan-in handler from the product document, in Python.
        previous_steps = call.body["previousSteps"]
        process_results = [
            {"stepId": step_id, **entry["result"]}
            for step_id, entry in previous_steps.items()
            if step_id.startswith("process-")
        ]
        stats = {
            "total": len(process_results),
            "successful": sum(1 for r in process_results if r.get("success")),
            "failed": sum(1 for r in process_results if not r.get("success")),
            "totalProcessed": sum(r.get("processedCount") or 0 for r in process_results),
        }
        return {"json": {"success": True, "result": stats}}

    handlers.on("/api/jobs/finalize-batch", finalize_batch)

    created = client.create_workflow(
        "batch-process",
        [
            {"id": "prepare", "url": "/api/jobs/prepare-batch"},
            {"id": "process-item-1", "url": "/api/jobs/process-item", "depends_on": ["prepare"], "parallel": True},
            {"id": "process-item-2", "url": "/api/jobs/process-item", "dependsOn": ["prepare"], "parallel": True},
            step("process-item-3", "/api/jobs/process-item", depends_on=["prepare"], parallel=True, timeout=30),
            {
                "id": "finalize",
                "url": "/api/jobs/finalize-batch",
                "depends_on": ["process-item-1", "process-item-2", "process-item-3"],
                "retries": {"max_attempts": 2, "backoff": "fixed", "initial_interval": 0.1},
            },
        ],
        context={"batchId": "batch_123", "items": ["item_1", "item_2", "item_3"]},
        base_url=handlers.base_url,
        timeout=120,
    )
    assert not created.deduplicated
    run = created.workflow
    assert run.id.startswith("wf_")
    assert run.workflow_id == "batch-process"

    # The watcher: snapshot first, then gap-free events, ending with the run's COMPLETED.
    messages = [m for m in client.watch(run.id, timeout=60) if m.WhichOneof("kind") != "heartbeat"]
    assert _kinds(messages)[0] == "snapshot"
    assert set(_kinds(messages)[1:]) == {"event"}
    snapshot = messages[0].snapshot
    assert snapshot.id == run.id
    events = [m.event for m in messages[1:]]
    first = snapshot.last_sequence + 1
    assert [e.sequence for e in events] == list(range(first, first + len(events)))
    assert all(e.run_id == run.id and e.workflow_id == "batch-process" for e in events)
    last = events[-1]
    assert last.WhichOneof("transition") == "run"
    assert last.run.to_state == WorkflowState.WORKFLOW_STATE_COMPLETED
    assert is_terminal_event(last)
    assert sum(is_terminal_event(e) for e in events) == 1
    assert format_event(last).endswith("run: RUNNING -> COMPLETED")

    expected = {"total": 3, "successful": 3, "failed": 0, "totalProcessed": 13}
    # The stored log holds the same transitions; a resumed watch replays them exactly.
    log = list(client.list_events(run.id, page_size=5))
    assert [e.sequence for e in log] == list(range(1, len(log) + 1))
    assert log[snapshot.last_sequence :] == events
    finalize_done = [
        e
        for e in log
        if e.step_id == "finalize" and e.WhichOneof("transition") == "step" and e.step.to_state == StepState.STEP_STATE_COMPLETED
    ]
    assert len(finalize_done) == 1
    assert to_python(finalize_done[0].result) == expected
    resumed = list(client.watch(run.id, after_sequence=1, timeout=30))
    assert set(_kinds(resumed)) == {"event"}
    assert [m.event for m in resumed] == log[1:]
    # Watching a finished run: just its snapshot.
    finished = list(client.watch(run.id, timeout=30))
    assert _kinds(finished) == ["snapshot"]
    assert finished[0].snapshot.state == WorkflowState.WORKFLOW_STATE_COMPLETED

    # The status, with finalize's aggregate.
    status = client.get_workflow(run.id)
    assert status.state == WorkflowState.WORKFLOW_STATE_COMPLETED
    assert sorted(status.completed_steps) == sorted(["prepare", "process-item-1", "process-item-2", "process-item-3", "finalize"])
    assert list(status.failed_steps) == [] and list(status.current_steps) == []
    assert to_python(status.results["finalize"]) == expected
    assert to_python(status.results["process-item-2"]) == {"success": True, "processedCount": 7}
    assert [(s.id, s.state, s.attempts) for s in status.steps] == [
        (sid, StepState.STEP_STATE_COMPLETED, 1)
        for sid in ["prepare", "process-item-1", "process-item-2", "process-item-3", "finalize"]
    ]
    assert status.last_sequence == log[-1].sequence
    assert to_python(status.context) == {"batchId": "batch_123", "items": ["item_1", "item_2", "item_3"]}

    # What the handlers saw: every request signed (none rejected), in dependency order.
    calls = handlers.calls_for(run.id)
    assert [c.step_id for c in calls][0] == "prepare"
    assert [c.step_id for c in calls][-1] == "finalize"
    assert sorted(c.step_id for c in calls) == sorted(["prepare", "process-item-1", "process-item-2", "process-item-3", "finalize"])
    assert [r for r in handlers.rejected if run.id.encode() in r.raw] == []
    for c in calls:
        assert c.headers["idempotency-key"] == f"{run.id}:{c.step_id}"
        assert c.headers["weft-run-id"] == run.id
        assert c.headers["weft-step-id"] == c.step_id
        assert c.headers["weft-attempt"] == "1"
        assert c.body["workflowId"] == "batch-process" and c.body["attempt"] == 1
        assert len(c.headers["webhook-signature"].split()) == len(weft_server.secrets)
        for secret in weft_server.secrets:  # each secret alone verifies it (rotation)
            verify_request(c.headers, c.raw, [secret])
    # Fan-out: every item request arrived before any item answered.
    items = handlers.calls_for(run.id, "/api/jobs/process-item")
    assert len(items) == 3
    assert max(c.received_at for c in items) < min(c.responded_at for c in items)
    # Fan-in: finalize started after every item answered, and read their results.
    (fin,) = handlers.calls_for(run.id, "/api/jobs/finalize-batch")
    assert fin.received_at >= max(c.responded_at for c in items)
    assert fin.body["previousSteps"]["process-item-2"]["result"] == {"success": True, "processedCount": 7}
    assert fin.body["previousSteps"]["prepare"]["result"] == {"items": ["item_1", "item_2", "item_3"]}


def test_all_settled_fan_in_counts_a_failed_item_and_the_run_completes(client: Client, handlers):
    prefix = "/" + _unique("joins")
    handlers.on(f"{prefix}/prepare", lambda call: {"json": {"success": True, "result": {}}})
    handlers.on(
        f"{prefix}/item",
        lambda call: {"status": 500, "json": {"success": False, "error": "corrupt"}}
        if call.body["stepId"] == "item-2"
        else {"json": {"success": True, "result": {"success": True, "processedCount": 1}}},
    )

    def finalize(call):
        # The product document's fan-in handler; a failed item has no "result".
        results = [
            {"stepId": sid, **(entry.get("result") or {})}
            for sid, entry in call.body["previousSteps"].items()
            if sid.startswith("item-")
        ]
        ok = sum(1 for r in results if r.get("success"))
        return {"json": {"success": True, "result": {"successful": ok, "failed": len(results) - ok}}}

    handlers.on(f"{prefix}/finalize", finalize)
    items = ["item-1", "item-2", "item-3"]
    run = client.create_workflow(
        _unique("fan-in"),
        [
            {"id": "prepare", "url": f"{prefix}/prepare"},
            *[{"id": i, "url": f"{prefix}/item", "depends_on": ["prepare"], "parallel": True} for i in items],
            step("finalize", f"{prefix}/finalize", depends_on=items, join="all_settled"),
            {"id": "any", "url": f"{prefix}/prepare", "depends_on": items, "join": {"at_least": 2}},
        ],
        base_url=handlers.base_url,
    ).workflow
    list(client.watch(run.id, timeout=60))
    status = client.get_workflow(run.id)
    assert status.state == WorkflowState.WORKFLOW_STATE_COMPLETED
    assert list(status.failed_steps) == ["item-2"]
    assert to_python(status.results["finalize"]) == {"successful": 2, "failed": 1}
    by_id = {s.id: s for s in status.steps}
    assert by_id["item-2"].state == StepState.STEP_STATE_FAILED
    assert by_id["finalize"].definition.join.WhichOneof("policy") == "all_settled"
    assert by_id["any"].definition.join.at_least == 2
    (fin,) = handlers.calls_for(run.id, f"{prefix}/finalize")
    failed = fin.body["previousSteps"]["item-2"]
    assert failed["state"] == "failed" and failed["error"]["reason"] == "http_status" and "result" not in failed


def test_join_policy_forms_and_invalid_joins(client: Client):
    assert join_policy("any").WhichOneof("policy") == "any"
    assert join_policy("allSettled").WhichOneof("policy") == "all_settled"
    assert join_policy({"toleratedFailurePercent": 12.5}).tolerated_failure_percent == 12.5
    with pytest.raises(ValueError):
        join_policy("majority")
    with pytest.raises(TypeError):
        join_policy({"at_least": 1, "any": 2})
    err = _invalid(
        client,
        _unique("bad-join"),
        # Loopback URLs: even if it were accepted, no packet would leave the machine.
        [{"id": "a", "url": "http://127.0.0.1:9/a"}, {"id": "b", "url": "http://127.0.0.1:9/b", "depends_on": ["a"], "join": {"at_least": 2}}],
    )
    assert field_violations(err) == [("steps[1].join.at_least", "must be at most 1, the number of dependencies (got 2)")]


def test_map_step_fields():
    s = step("p", "/i", depends_on=["a"], for_each="/a/result/items", max_concurrency=50, item_failures={"at_least": 2})
    assert (s.for_each, s.max_concurrency, s.item_failures.at_least) == ("/a/result/items", 50, 2)
    t = to_step({"id": "x", "url": "/x", "forEach": "/context/l", "itemFailures": "all_settled", "maxConcurrency": 3})
    assert (t.for_each, t.max_concurrency, t.item_failures.WhichOneof("policy")) == ("/context/l", 3, "all_settled")
    with pytest.raises(TypeError):
        step("p", "/i", max_concurrency="5")


def test_handler_rejects_unsigned_and_forged_requests(handlers):
    body = json.dumps({"runId": "wf_forged", "stepId": "x"}).encode()

    def post(headers):
        req = urllib.request.Request(handlers.url("/api/jobs/anything"), data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    assert post({"content-type": "application/json"}) == (401, {"error": "invalid signature", "reason": "missing_headers"})
    forged = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}
    assert post(forged)[1]["reason"] == "stale_timestamp"
    assert handlers.calls_for("wf_forged") == []
    assert {r.reason for r in handlers.rejected if b"wf_forged" in r.raw} == {"missing_headers", "stale_timestamp"}


# ---- cancel -----------------------------------------------------------------------------


def test_cancel_ends_the_watch_and_a_second_cancel_is_refused(client: Client, handlers):
    gate = threading.Event()
    path = "/api/jobs/" + _unique("slow")
    handlers.on(path, lambda call: (gate.wait(20), {"json": {"success": True}})[1])
    try:
        run = client.create_workflow(
            _unique("cancel-me"),
            [{"id": "slow", "url": handlers.url(path)}, {"id": "after", "url": handlers.url(path), "depends_on": ["slow"]}],
        ).workflow
        handlers.wait_for_call(run.id, path)

        watched: list = []
        watcher = threading.Thread(target=lambda: watched.extend(client.watch(run.id, timeout=30)))
        watcher.start()
        cancelled = client.cancel(run.id, "operator said so")
        watcher.join(30)
        assert not watcher.is_alive()

        final = client.get_workflow(run.id)
        assert final.state == WorkflowState.WORKFLOW_STATE_CANCELLED
        assert cancelled.id == run.id
        assert "operator said so" in final.error.message
        assert {s.id: s.state for s in final.steps} == {
            "slow": StepState.STEP_STATE_CANCELLED,
            "after": StepState.STEP_STATE_SKIPPED,
        }
        # The watcher ended on the terminal transition (or on a finished snapshot).
        last = watched[-1]
        if last.WhichOneof("kind") == "event":
            assert last.event.run.to_state == WorkflowState.WORKFLOW_STATE_CANCELLED
        else:
            assert last.snapshot.state == WorkflowState.WORKFLOW_STATE_CANCELLED

        with pytest.raises(grpc.RpcError) as info:
            client.cancel(run.id, "again")
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_info(info.value).reason == "RUN_FINISHED"
        assert error_info(info.value).domain == "weft.v1"
    finally:
        gate.set()


def test_redrive_runs_only_the_steps_that_did_not_complete(client: Client, handlers):
    prefix = "/" + _unique("redrive")
    fixed = threading.Event()
    handlers.on(f"{prefix}/ok", lambda call: {"json": {"success": True, "result": call.body["stepId"]}})
    handlers.on(
        f"{prefix}/flaky",
        lambda call: {"json": {"success": True, "result": "fixed"}}
        if fixed.is_set()
        else {"status": 400, "json": {"success": False, "error": "broken"}},
    )
    run = client.create_workflow(
        _unique("redrive-me"),
        [
            {"id": "a", "url": f"{prefix}/ok"},
            {"id": "b", "url": f"{prefix}/flaky", "depends_on": ["a"]},
            {"id": "c", "url": f"{prefix}/ok", "depends_on": ["b"]},
        ],
        base_url=handlers.base_url,
    ).workflow
    list(client.watch(run.id, timeout=120))
    failed = client.get_workflow(run.id)
    assert failed.state == WorkflowState.WORKFLOW_STATE_FAILED
    assert list(failed.failed_steps) == ["b"]

    fixed.set()
    redriven = client.redrive(run.id, deadline_extension_seconds=600)
    assert redriven.id == run.id
    list(client.watch(run.id, timeout=120))
    done = client.get_workflow(run.id)
    assert done.state == WorkflowState.WORKFLOW_STATE_COMPLETED
    assert to_python(done.results["b"]) == "fixed"
    # The completed step kept its result and was not called again; the failed one ran again.
    counts = {sid: sum(1 for c in handlers.calls_for(run.id) if c.body["stepId"] == sid) for sid in ("a", "b", "c")}
    assert counts["a"] == 1 and counts["b"] >= 2 and counts["c"] == 1

    with pytest.raises(grpc.RpcError) as info:
        client.redrive(run.id)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(info.value).reason == "RUN_COMPLETED"


def test_pause_holds_the_next_step_until_resume(client: Client, handlers):
    prefix = "/" + _unique("pause")
    release = threading.Event()

    def held(call):
        release.wait(60)
        return {"json": {"success": True, "result": "a"}}

    handlers.on(f"{prefix}/a", held)
    handlers.on(f"{prefix}/b", lambda call: {"json": {"success": True, "result": "b"}})
    run = client.create_workflow(
        _unique("pause-me"),
        [{"id": "a", "url": f"{prefix}/a"}, {"id": "b", "url": f"{prefix}/b", "depends_on": ["a"]}],
        base_url=handlers.base_url,
    ).workflow
    handlers.wait_for_call(run.id, f"{prefix}/a")
    paused = client.pause(run.id, reason="from python", hold_deadline=True)
    assert paused.state == WorkflowState.WORKFLOW_STATE_PAUSED
    assert paused.pause_reason == "from python" and paused.deadline_held
    with pytest.raises(grpc.RpcError) as info:
        client.pause(run.id)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(info.value).reason == "RUN_PAUSED"
    release.set()
    deadline = time.monotonic() + 60
    while client.get_workflow(run.id).steps[0].state != StepState.STEP_STATE_COMPLETED:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    after = client.get_workflow(run.id)
    assert after.state == WorkflowState.WORKFLOW_STATE_PAUSED
    assert after.steps[1].state == StepState.STEP_STATE_PENDING
    assert handlers.calls_for(run.id, f"{prefix}/b") == []
    assert client.resume(run.id).state == WorkflowState.WORKFLOW_STATE_RUNNING
    list(client.watch(run.id, timeout=120))
    assert client.get_workflow(run.id).state == WorkflowState.WORKFLOW_STATE_COMPLETED
    assert len(handlers.calls_for(run.id, f"{prefix}/b")) == 1


# ---- error mapping ----------------------------------------------------------------------


def _invalid(client: Client, workflow_id: str, steps) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        client.create_workflow(workflow_id, steps)
    err = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Bad input never creates a run.
    assert list(client.list_workflows(workflow_id=workflow_id).workflows) == []
    return err


def test_unknown_dependency_is_invalid_argument_with_field_violations(client: Client):
    err = _invalid(
        client,
        _unique("bad-deps"),
        [{"id": "a", "url": URL}, {"id": "b", "url": URL}, {"id": "c", "url": URL, "depends_on": ["charge"]}],
    )
    assert field_violations(err) == [("steps[2].depends_on[0]", 'unknown step "charge"')]
    assert 'steps[2].depends_on[0]: unknown step "charge"' in err.details()


def test_duplicate_step_id_is_invalid_argument_with_field_violations(client: Client):
    err = _invalid(client, _unique("dup-ids"), [{"id": "a", "url": URL}, {"id": "b", "url": URL}, {"id": "a", "url": URL}])
    violations = field_violations(err)
    assert violations == [("steps[2].id", 'duplicate step id "a" (also steps[0])')]
    assert all(isinstance(f, str) and isinstance(d, str) for f, d in violations)


def test_every_problem_is_reported_at_once(client: Client):
    err = _invalid(
        client,
        _unique("many"),
        [
            {"id": "a", "url": URL},
            {"id": "a", "url": "ftp://h.test/x"},
            {"id": "c", "url": "/relative", "depends_on": ["charge"], "retries": {"max_attempts": 1000}},
        ],
    )
    fields = dict(field_violations(err))
    assert fields["steps[2].depends_on[0]"] == 'unknown step "charge"'
    assert fields["steps[1].id"].startswith('duplicate step id "a"')
    assert {"steps[1].url", "steps[2].url", "steps[2].retries.max_attempts"} <= set(fields)
    for field, description in field_violations(err):
        assert f"{field}: {description}" in err.details()


def test_unknown_run_is_not_found(client: Client):
    with pytest.raises(grpc.RpcError) as info:
        client.get_workflow("wf_01JDQ0000000000000000000Z0")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_info(info.value).reason == "RUN_NOT_FOUND"
    assert field_violations(info.value) == []


# ---- API keys ---------------------------------------------------------------------------


def test_api_key_is_sent_on_every_call_and_stream_and_scopes_are_enforced(keyed_weft_server, handlers, monkeypatch):
    from conftest import READ_KEY, WRITE_KEY

    monkeypatch.delenv("WEFT_API_KEY", raising=False)
    target = keyed_weft_server.target
    with Client(target, api_key=WRITE_KEY) as writer:
        run = writer.create_workflow(_unique("keyed"), [{"id": "a", "url": handlers.url("/keyed/a")}]).workflow
        messages = list(writer.watch(run.id, timeout=30))
        assert messages[0].WhichOneof("kind") == "snapshot"
        assert writer.get_workflow(run.id).state == WorkflowState.WORKFLOW_STATE_COMPLETED
        assert [e.sequence for e in writer.list_events(run.id)][0] == 1

    with Client(target, api_key=READ_KEY) as reader:
        assert reader.get_workflow(run.id).id == run.id
        assert list(reader.watch(run.id, timeout=30))[0].WhichOneof("kind") == "snapshot"
        assert any(w.id == run.id for w in reader.list_workflows().workflows)
        with pytest.raises(grpc.RpcError) as denied:
            reader.create_workflow(_unique("keyed"), [{"id": "a", "url": handlers.url("/keyed/a")}])
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(denied.value).reason == "API_KEY_SCOPE"
        assert dict(error_info(denied.value).metadata) == {"required": "write"}
        assert READ_KEY not in (denied.value.details() or "")

    with Client(target) as anonymous:
        with pytest.raises(grpc.RpcError) as missing:
            anonymous.get_workflow(run.id)
        assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(missing.value).reason == "API_KEY_MISSING"
        with pytest.raises(grpc.RpcError) as stream:
            list(anonymous.watch(run.id, timeout=30))
        assert stream.value.code() == grpc.StatusCode.UNAUTHENTICATED

    with Client(target, api_key="wrong-key-0123456789") as wrong:
        with pytest.raises(grpc.RpcError) as invalid:
            wrong.get_workflow(run.id)
        assert invalid.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_info(invalid.value).reason == "API_KEY_INVALID"
        assert "wrong-key-0123456789" not in (invalid.value.details() or "")

    monkeypatch.setenv("WEFT_API_KEY", READ_KEY)
    with Client(target) as from_env:
        assert from_env.get_workflow(run.id).id == run.id

    with pytest.raises(ValueError) as bad:
        Client(target, api_key="secret-part two")
    assert "secret-part" not in str(bad.value)
