"""The weftflow distribution as a user gets it: the wheel built from
clients/python, pip-installed into a fresh virtual environment outside the
repository (scripts/prepare-python-package-test.sh does both, in the set-up
phase, and writes the environment's directory to
$WEFT_PKG_TEST_DIR/python-venv.path). Here nothing is installed: the tests only
run that environment's python.

Without a prepared environment (or with one older than the sources) the tests
skip, saying so; with CI=true they fail."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from test_examples import EXAMPLES, check_examples

REPO_ROOT = Path(__file__).resolve().parents[3]
SOURCE = REPO_ROOT / "clients" / "python" / "src" / "weftflow"
STATE = Path(os.environ.get("WEFT_PKG_TEST_DIR") or REPO_ROOT / ".tools" / "pkg-test") / "python-venv.path"
PREPARE = "bash scripts/prepare-python-package-test.sh"

# What the fresh environment's python reports about the weftflow it imports.
PROBE = """
import importlib.metadata as md, importlib.util, json, sys, sysconfig
import weftflow, weftflow.v1
dist = md.distribution("weftflow")
print(json.dumps({
    "prefix": sys.prefix,
    "purelib": sysconfig.get_paths()["purelib"],
    "weftflow": weftflow.__file__,
    "workflow_pb2": weftflow.v1.workflow_pb2.__file__,
    "workflow_pb2_grpc": weftflow.v1.workflow_pb2_grpc.__file__,
    "version": dist.version,
    "direct_url": json.loads(dist.read_text("direct_url.json") or "null"),
    "weft_importable": importlib.util.find_spec("weft") is not None,
}))
"""


def _not_prepared(why: str) -> None:
    message = f"weftflow package test not prepared: {why}. Run `{PREPARE}` first (scripts/test.sh does)."
    if os.environ.get("CI") == "true":
        pytest.fail(message + " In CI this test must run, so it fails.", pytrace=False)
    pytest.skip(message)


def _clean_env() -> dict[str, str]:
    # Nothing may point the fresh interpreter back at the repository or another environment.
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("WEFT_")}


def _inside(path: str | Path, parent: str | Path) -> bool:
    return Path(path).resolve().is_relative_to(Path(parent).resolve())


@pytest.fixture(scope="module")
def fresh_python() -> str:
    if not STATE.is_file():
        _not_prepared(f"{STATE} does not exist")
    work = Path(STATE.read_text(encoding="utf-8").strip())
    python = work / "venv" / "bin" / "python"
    if not python.exists():
        _not_prepared(f"{python} does not exist (a temporary directory that was cleaned up?)")
    # The installed package must be the current sources, or the test proves nothing.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        env=_clean_env(), capture_output=True, text=True, check=True, timeout=120,
    ).stdout.strip()  # fmt: skip
    for source in sorted(p for p in SOURCE.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        installed = Path(purelib) / "weftflow" / source.relative_to(SOURCE)
        if not installed.is_file() or installed.read_bytes() != source.read_bytes():
            _not_prepared(f"the installed wheel is older than the sources ({installed} differs from {source})")
    return str(python)


def test_the_wheel_installs_weftflow_into_the_fresh_environment(fresh_python: str) -> None:
    # Run from the examples directory: the interpreter sees what the examples see.
    probe = subprocess.run(
        [fresh_python, "-c", PROBE], cwd=EXAMPLES, env=_clean_env(), capture_output=True, text=True, timeout=120
    )
    assert probe.returncode == 0, probe.stderr
    info = json.loads(probe.stdout)

    venv = Path(fresh_python).parent.parent
    assert Path(info["prefix"]).resolve() == venv.resolve()
    assert not _inside(venv, REPO_ROOT), f"the fresh environment {venv} is inside the repository"
    for module in ("weftflow", "workflow_pb2", "workflow_pb2_grpc"):
        assert _inside(info[module], info["purelib"]), f"{module} imported from {info[module]}, not site-packages"
        assert not _inside(info[module], REPO_ROOT), f"{module} imported from the repository: {info[module]}"
    assert Path(info["workflow_pb2"]).parent == Path(info["purelib"]) / "weftflow" / "_proto" / "weft" / "v1"
    assert info["version"] == "0.1.0"
    # Installed from the wheel file itself (not an editable or directory install).
    assert info["direct_url"]["url"].endswith("-py3-none-any.whl"), info["direct_url"]
    assert "dir_info" not in info["direct_url"], info["direct_url"]
    # The top-level name `weft` belongs to another PyPI package: weftflow must not claim it.
    assert info["weft_importable"] is False


def test_the_examples_run_on_the_installed_package(fresh_python: str, weft_server, tmp_path: Path) -> None:
    check_examples(fresh_python, weft_server, env=_clean_env(), cwd=tmp_path)
