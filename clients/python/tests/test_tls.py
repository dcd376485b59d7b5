"""The client against a Weft server started with --tls-cert/--tls-key/--tls-client-ca
(mutual TLS), with certificates made by the ``openssl`` CLI for this module."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from conftest import NODE, REPO_ROOT, STARTUP_TIMEOUT_S, _drain
from weftflow import Client


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(d: Path, name: str) -> None:
    _openssl(d, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")
    _openssl(d, "req", "-x509", "-new", "-key", f"{name}.key", "-sha256", "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", "-out", f"{name}.pem")  # fmt: skip


def _make_leaf(d: Path, name: str, ca: str, ext: str) -> None:
    _openssl(d, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key")
    _openssl(d, "req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out", f"{name}.csr")
    (d / f"{name}.ext").write_text(ext)
    _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-days", "2", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.pem")  # fmt: skip


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    d = tmp_path_factory.mktemp("weft-tls")
    _make_ca(d, "ca")
    _make_leaf(d, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _make_ca(d, "client-ca")
    _make_leaf(d, "client", "client-ca", "extendedKeyUsage=clientAuth\n")
    cmd = [
        str(NODE), "src/main.ts", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(d / "data"),
        "--signing-secrets", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--shutdown-grace-ms", "1000",
        "--tls-cert", str(d / "server.pem"), "--tls-key", str(d / "server.key"), "--tls-client-ca", str(d / "client-ca.pem"),
    ]  # fmt: skip
    process = subprocess.Popen(cmd, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, encoding="utf-8", errors="replace")  # fmt: skip
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
            process.kill()
            process.wait()
            pytest.fail("Weft with TLS did not start:\n" + "\n".join(logs[-40:]), pytrace=False)
    try:
        yield f"127.0.0.1:{found['port']}", d
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_mutual_tls_with_a_client_certificate(tls_server: tuple[str, Path]):
    target, d = tls_server
    creds = grpc.ssl_channel_credentials(
        root_certificates=(d / "ca.pem").read_bytes(),
        private_key=(d / "client.key").read_bytes(),
        certificate_chain=(d / "client.pem").read_bytes(),
    )
    with Client(target, credentials=creds, timeout=30) as c:
        assert list(c.list_workflows().workflows) == []


def test_without_a_client_certificate_or_in_cleartext_the_call_fails(tls_server: tuple[str, Path]):
    target, d = tls_server
    for client in (
        Client(target, credentials=grpc.ssl_channel_credentials(root_certificates=(d / "ca.pem").read_bytes()), timeout=10),
        Client(target, timeout=10),
    ):
        with client, pytest.raises(grpc.RpcError) as info:
            client.list_workflows()
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
