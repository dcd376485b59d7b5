"""Create the batch fan-out / fan-in workflow and watch it to completion.

    python clients/python/examples/watch.py --weft 127.0.0.1:8080 --handlers http://127.0.0.1:9000

Start Weft and examples/handler.py first (see the README). Prints every
transition as it happens, then the finalize step's aggregate; exits 1 if the
run did not complete.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import grpc

from weftflow import Client, WorkflowState, field_violations, format_event, to_python


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weft", default="127.0.0.1:8080", help="Weft's gRPC address (host:port)")
    parser.add_argument("--handlers", default="http://127.0.0.1:9000", help="base URL of the step handlers")
    parser.add_argument("--items", type=int, default=3, help="how many process-item steps to fan out to")
    args = parser.parse_args()

    items = [f"process-item-{i}" for i in range(1, args.items + 1)]
    steps: list[dict[str, Any]] = [{"id": "prepare", "url": "/api/jobs/prepare-batch"}]
    steps += [{"id": s, "url": "/api/jobs/process-item", "depends_on": ["prepare"], "parallel": True} for s in items]
    steps += [
        {
            "id": "finalize",
            "url": "/api/jobs/finalize-batch",
            "depends_on": items,
            "retries": {"max_attempts": 3, "backoff": "exponential", "initial_interval": 1},
        }
    ]

    with Client(args.weft) as weft:
        try:
            created = weft.create_workflow(
                "batch-process",
                steps,
                base_url=args.handlers,
                context={"batchId": "batch_123", "items": [f"item_{i}" for i in range(1, args.items + 1)]},
                timeout=600,
            )
        except grpc.RpcError as err:
            print(f"CreateWorkflow failed: {err.code().name}: {err.details()}", file=sys.stderr)
            for field, description in field_violations(err):
                print(f"  {field}: {description}", file=sys.stderr)
            return 1
        run_id = created.workflow.id
        print(f"created run {run_id}")

        for msg in weft.watch(run_id):
            kind = msg.WhichOneof("kind")
            if kind == "snapshot":
                snap = msg.snapshot
                print(f"snapshot at #{snap.last_sequence}: {WorkflowState.Name(snap.state)}")
            elif kind == "event":
                print(format_event(msg.event))
            # heartbeats: nothing to show

        status = weft.get_workflow(run_id)
        print(f"run {run_id}: {WorkflowState.Name(status.state)}")
        if status.state != WorkflowState.WORKFLOW_STATE_COMPLETED:
            print(f"error: {status.error.reason}: {status.error.message}", file=sys.stderr)
            return 1
        print("finalize:", json.dumps(to_python(status.results["finalize"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
