#!/usr/bin/env bash
# The Python package's tests: builds the wheel, installs it into a fresh venv (as a user would
# with pip) and runs tests/python with pytest. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(mktemp -d /tmp/airbyte-rs-py.XXXXXX)/venv
trap 'rm -rf "$(dirname "$VENV")"' EXIT
bash scripts/build-wheel.sh "$VENV" >/dev/null
"$VENV/bin/pip" install -q 'pytest>=7'
"$VENV/bin/python" -m pytest tests/python -q -p no:cacheprovider "$@"
