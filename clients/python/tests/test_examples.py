"""The examples run as documented: examples/handler.py serves the batch jobs
(verifying signatures) and examples/watch.py drives a run through it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_handler_and_watch_examples(weft_server):
    env = {**os.environ, "WEFT_SIGNING_SECRETS": ",".join(weft_server.secrets), "PYTHONUNBUFFERED": "1"}
    handler = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "handler.py"), "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = handler.stdout.readline()
        match = re.search(r"listening on (http://\S+)", first)
        assert match, f"handler.py did not start: {first!r}"
        base = match.group(1)

        # Unsigned requests are refused.
        req = urllib.request.Request(base + "/api/jobs/process-item", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("an unsigned request was accepted")
        except urllib.error.HTTPError as err:
            assert err.code == 401

        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "watch.py"), "--weft", weft_server.target, "--handlers", base, "--items", "3"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
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
        handler.wait(10)
