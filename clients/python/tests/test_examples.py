"""The examples run as documented: examples/handler.py serves the batch jobs
(verifying signatures) and examples/watch.py drives a run through it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def check_examples(
    python: str,
    weft_server,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[Path] = None,
) -> None:
    """Runs handler.py and watch.py with the interpreter `python` against
    `weft_server` and checks what they print."""
    env = {**(os.environ if env is None else env), "WEFT_SIGNING_SECRETS": ",".join(weft_server.secrets), "PYTHONUNBUFFERED": "1"}
    handler_log = tempfile.TemporaryFile(mode="w+")  # its request log; a pipe could fill up
    handler = subprocess.Popen(
        [python, str(EXAMPLES / "handler.py"), "--port", "0"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=handler_log,
        text=True,
    )
    try:
        first = handler.stdout.readline()
        match = re.search(r"listening on (http://\S+)", first)
        if not match:
            handler.kill()
            handler.wait()
            handler_log.seek(0)
            raise AssertionError(f"handler.py did not start: {first!r}\n{handler_log.read()[-4000:]}")
        base = match.group(1)

        # Unsigned requests are refused.
        req = urllib.request.Request(base + "/api/jobs/process-item", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("an unsigned request was accepted")
        except urllib.error.HTTPError as err:
            assert err.code == 401

        done = subprocess.run(
            [python, str(EXAMPLES / "watch.py"), "--weft", weft_server.target, "--handlers", base, "--items", "3"],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[0].startswith("created run wf_")
        assert lines[1].startswith("snapshot at #")
        assert "step finalize: RUNNING -> COMPLETED (attempt 1)" in done.stdout
        assert lines[-3].endswith("run: RUNNING -> COMPLETED")
        assert lines[-2].endswith("WORKFLOW_STATE_COMPLETED")
        # process-item-n touches 3n records: 3 + 6 + 9.
        assert lines[-1].startswith("finalize: ")
        assert json.loads(lines[-1][len("finalize: ") :]) == {"total": 3, "successful": 3, "failed": 0, "totalProcessed": 18}
    finally:
        handler.terminate()
        try:
            handler.wait(10)
        except subprocess.TimeoutExpired:
            handler.kill()
            handler.wait()
        handler_log.close()


def test_handler_and_watch_examples(weft_server):
    check_examples(sys.executable, weft_server)
