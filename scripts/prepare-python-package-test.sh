#!/usr/bin/env bash
# Set-up of the Python package test (clients/python/tests/test_package.py),
# run by scripts/test.sh before any test runner: everything that downloads
# happens here, never inside a timed test.
#
#   1. builds the weftflow sdist and, from it, the wheel (`python -m build`, with
#      .venv's pinned `build`; hatchling is fetched into an isolated build env);
#   2. creates a fresh virtual environment in a new temporary directory, outside
#      the repository, and pip-installs the wheel there with the dependencies it
#      declares (as a user would: newest matching versions, no pins);
#   3. writes that directory's path to $WEFT_PKG_TEST_DIR/python-venv.path
#      (default .tools/pkg-test/python-venv.path), where the test looks for it.
#
# The previous run's temporary directory is removed. WEFT_PKG_TEST_PYTHON picks
# the interpreter of the fresh environment (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
state_dir="${WEFT_PKG_TEST_DIR:-$repo/.tools/pkg-test}"
state="$state_dir/python-venv.path"
python="${WEFT_PKG_TEST_PYTHON:-python3}"

if [ -f "$state" ]; then
  old="$(cat "$state")"
  case "$(basename "$old")" in weftflow-pkg-test.*) rm -rf "$old" ;; esac
  rm -f "$state"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/weftflow-pkg-test.XXXXXX")"
echo "weftflow: building the sdist and wheel into $work/dist"
.venv/bin/python -m build --outdir "$work/dist" clients/python >"$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; exit 1; }
wheels=("$work"/dist/weftflow-*.whl)
[ -f "${wheels[0]}" ] || { echo "weftflow: no wheel in $work/dist" >&2; exit 1; }

echo "weftflow: installing ${wheels[0]##*/} into a fresh venv ($work/venv, $("$python" --version))"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "${wheels[0]}"
"$work/venv/bin/python" -m pip freeze --disable-pip-version-check >"$work/installed.txt"

mkdir -p "$state_dir"
echo "$work" >"$state"
echo "weftflow: ready ($(tr '\n' ' ' <"$work/installed.txt"))"
