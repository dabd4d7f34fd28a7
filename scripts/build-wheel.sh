#!/usr/bin/env bash
# Builds the airbyte_rs wheel (one abi3 wheel for CPython >= 3.10) with maturin and installs it
# into a venv: `scripts/build-wheel.sh [VENV]` (default .venv-airbyte-rs; made when missing).
# The wheel lands in dist/wheels/. maturin builds crates/python in the workspace's shared target
# dir, release profile and feature set (.ci/env.sh), so DuckDB is not compiled again.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/env.sh
VENV=${1:-.venv-airbyte-rs}
# maturin itself, in a small venv of its own, made once per machine.
TOOLS=$HOME/.cache/airbyte-rs/maturin
if ! "$TOOLS/bin/maturin" --version >/dev/null 2>&1; then
  rm -rf "$TOOLS"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q 'maturin>=1.9,<2'
fi
rm -rf dist/wheels
# `--strip`: no debug info in the extension (65 MB of wheel otherwise). `--compatibility linux`: a
# wheel for this machine (a manylinux wheel needs a manylinux build
# image; DuckDB's C++ links the system libstdc++).
"$TOOLS/bin/maturin" build --release --strip --compatibility linux --out dist/wheels >&2
WHEEL=$(ls dist/wheels/airbyte_rs-*.whl)
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --force-reinstall --no-deps "$WHEEL"
# Its dependencies (pyarrow, pandas), only when missing.
"$VENV/bin/pip" install -q "$WHEEL" >&2
echo "$WHEEL"
