"""Fixtures for the end-to-end tests: a real Weft server (the repository's
``node_modules/.bin/node src/main.ts``) and Python step handlers (stdlib
http.server) that verify every request's signature with weftflow."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

import pytest

from weftflow import Client, SignatureError, verify_request

REPO_ROOT = Path(__file__).resolve().parents[3]
NODE = REPO_ROOT / "node_modules" / ".bin" / "node"
# Weft signs with both (a rotation): every request carries two v1 entries. The
# server splits --signing-secrets on commas and whitespace, so no spaces here.
SERVER_SECRETS = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "weft-python-e2e:raw-secret")
STARTUP_TIMEOUT_S = 30.0


# ---- the Weft server ----------------------------------------------------------------


@dataclass
class WeftServer:
    process: subprocess.Popen
    port: int
    secrets: tuple[str, ...]
    logs: list[str]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def recent_logs(self, n: int = 40) -> str:
        return "\n".join(self.logs[-n:])


def _drain(stream, logs: list[str], on_line: Optional[Callable[[str], None]] = None) -> None:
    # Keep reading until EOF: a full pipe would block the server's logging.
    for line in stream:
        line = line.rstrip("\n")
        logs.append(line)
        if on_line is not None:
            on_line(line)


@contextlib.contextmanager
def _run_weft(tmp_path_factory: pytest.TempPathFactory, extra_args: tuple[str, ...] = ()) -> Iterator[WeftServer]:
    if not NODE.exists():
        pytest.fail(
            f"cannot start Weft: {NODE} does not exist. The end-to-end tests run the real server on the "
            "repository's own Node 24 runtime; run `npm ci` in the repository root first.",
            pytrace=False,
        )
    data_dir = tmp_path_factory.mktemp("weft-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEFT_")}
    cmd = [
        str(NODE), "src/main.ts",
        "--host", "127.0.0.1",
        "--port", "0",
        "--data-dir", str(data_dir),
        "--signing-secrets", ",".join(SERVER_SECRETS),
        "--log-level", "info",
        "--shutdown-grace-ms", "2000",
        *extra_args,
    ]  # fmt: skip
    process = subprocess.Popen(
        cmd,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    logs: list[str] = []
    found: dict[str, int] = {}
    listening = threading.Event()

    def on_line(line: str) -> None:
        try:
            entry = json.loads(line)
        except ValueError:
            return
        if isinstance(entry, dict) and entry.get("msg") == "weft listening" and entry.get("port"):
            found["port"] = int(entry["port"])
            listening.set()

    readers = [
        threading.Thread(target=_drain, args=(process.stdout, logs, on_line), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, logs), daemon=True),
    ]
    for t in readers:
        t.start()

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not listening.wait(0.05):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            process.wait()
            for t in readers:
                t.join(2)
            why = f"exited with {process.returncode}" if process.returncode is not None else "did not start"
            pytest.fail(f"Weft {why} ({' '.join(cmd)}):\n" + "\n".join(logs[-60:]), pytrace=False)

    server = WeftServer(process=process, port=found["port"], secrets=SERVER_SECRETS, logs=logs)
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for t in readers:
            t.join(2)


@pytest.fixture(scope="session")
def weft_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeftServer]:
    with _run_weft(tmp_path_factory) as server:
        yield server


# The API keys of keyed_weft_server.
WRITE_KEY = "wk_py_e2e_6c1e8a3f5b2d7094"
READ_KEY = "rk_py_e2e_2f9b4d7a1c6e3058"


@pytest.fixture(scope="session")
def keyed_weft_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeftServer]:
    """A Weft server that requires API keys (WRITE_KEY, READ_KEY)."""
    with _run_weft(tmp_path_factory, ("--api-keys", f"write:{WRITE_KEY},read:{READ_KEY}")) as server:
        yield server


@pytest.fixture(scope="session")
def client(weft_server: WeftServer) -> Iterator[Client]:
    with Client(weft_server.target, timeout=30) as c:
        yield c


# ---- Python step handlers -----------------------------------------------------------


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any
    received_at: float
    responded_at: Optional[float] = None
    status: Optional[int] = None

    @property
    def run_id(self) -> Optional[str]:
        return self.body.get("runId") if isinstance(self.body, dict) else None

    @property
    def step_id(self) -> Optional[str]:
        return self.body.get("stepId") if isinstance(self.body, dict) else None


@dataclass
class Rejection:
    path: str
    reason: str
    raw: bytes


Route = Callable[[Call], dict]
"""Returns {"json": …, "status": 200, "delay": seconds}; every key optional."""


@dataclass
class HandlerServer:
    secrets: tuple[str, ...]
    calls: list[Call] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    routes: dict[str, Route] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    httpd: Optional[ThreadingHTTPServer] = None

    @property
    def base_url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def on(self, path: str, route: Route) -> None:
        self.routes[path] = route

    def calls_for(self, run_id: str, path: Optional[str] = None) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.run_id == run_id and (path is None or c.path == path)]

    def wait_for_call(self, run_id: str, path: Optional[str] = None, timeout: float = 120.0) -> Call:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls_for(run_id, path)
            if calls:
                return calls[0]
            time.sleep(0.02)
        raise AssertionError(f"no call for run {run_id} at {path or 'any path'} within {timeout}s")

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Weft's pooled client prefers

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    self.close_connection = True  # the caller went away (e.g. a cancelled run)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    # The exact bytes, before any JSON parsing.
                    verify_request(self.headers, raw, server.secrets)
                except SignatureError as err:
                    with server.lock:
                        server.rejected.append(Rejection(self.path, err.reason, raw))
                    self._send(401, {"error": "invalid signature", "reason": err.reason})
                    return
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                call = Call(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    raw=raw,
                    body=body,
                    received_at=time.monotonic(),
                )
                with server.lock:
                    server.calls.append(call)
                route = server.routes.get(self.path)
                answer = route(call) if route else {"json": {"success": True, "result": {"step": call.step_id}}}
                if answer.get("delay"):
                    time.sleep(answer["delay"])
                call.status = answer.get("status", 200)
                call.responded_at = time.monotonic()
                self._send(call.status, answer.get("json"))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture(scope="session")
def handlers(weft_server: WeftServer) -> Iterator[HandlerServer]:
    server = HandlerServer(secrets=weft_server.secrets)
    server.start()
    try:
        yield server
    finally:
        server.close()
