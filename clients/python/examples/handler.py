"""A Weft step handler with nothing but the standard library.

Serves the batch fan-out / fan-in jobs of the product document:

    POST /api/jobs/prepare-batch    -> {"items": context.items}
    POST /api/jobs/process-item     -> {"success": true, "processedCount": n}
    POST /api/jobs/finalize-batch   -> totals over previousSteps (the fan-in)
    POST anything else              -> {"step": stepId}

and rejects (401) every request whose Standard Webhooks signature does not
verify against WEFT_SIGNING_SECRETS (the secret(s) Weft was started with).

    WEFT_SIGNING_SECRETS=whsec_... python clients/python/examples/handler.py --port 9000
"""

from __future__ import annotations

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from weftflow import SignatureError, secrets_from_env, verify_request


def prepare_batch(job: dict[str, Any]) -> Any:
    return {"items": job["context"].get("items", [])}


def process_item(job: dict[str, Any]) -> Any:
    # Pretend to process: the item number decides how many records it touched.
    n = int(job["stepId"].rsplit("-", 1)[-1]) if job["stepId"][-1:].isdigit() else 1
    return {"success": True, "processedCount": n * 3}


def finalize_batch(job: dict[str, Any]) -> Any:
    results = [
        {"stepId": step_id, **(entry.get("result") or {})}
        for step_id, entry in job["previousSteps"].items()
        if step_id.startswith("process-")
    ]
    return {
        "total": len(results),
        "successful": sum(1 for r in results if r.get("success")),
        "failed": sum(1 for r in results if not r.get("success")),
        "totalProcessed": sum(r.get("processedCount") or 0 for r in results),
    }


JOBS = {
    "/api/jobs/prepare-batch": prepare_batch,
    "/api/jobs/process-item": process_item,
    "/api/jobs/finalize-batch": finalize_batch,
}


def make_handler(secrets: list[str]) -> type[BaseHTTPRequestHandler]:
    class StepHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                verify_request(self.headers, body, secrets)  # the raw bytes, before json.loads
            except SignatureError as err:
                self.log_message("rejected %s: %s", self.path, err.reason)
                self._reply(401, {"error": "invalid signature", "reason": err.reason})
                return
            job = json.loads(body)
            self.log_message(
                "run %s step %s attempt %s (idempotency key %s)",
                job["runId"], job["stepId"], job["attempt"], self.headers.get("idempotency-key"),
            )  # fmt: skip
            try:
                result = JOBS.get(self.path, lambda j: {"step": j["stepId"]})(job)
            except Exception as exc:  # a failed attempt: Weft retries it per the step's policy
                self._reply(200, {"success": False, "error": f"{type(exc).__name__}: {exc}"})
                return
            self._reply(200, {"success": True, "result": result})

    return StepHandler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    secrets = secrets_from_env()
    if not secrets:
        print("set WEFT_SIGNING_SECRETS to the secret(s) Weft signs with (--signing-secrets)", file=sys.stderr)
        return 2
    server = ThreadingHTTPServer((args.host, args.port), make_handler(secrets))
    print(f"step handler listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
