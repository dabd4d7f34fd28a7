#!/usr/bin/env bash
# The test command (README, and CI through .ci/run): formatting, lints, docs and every test,
# all in the release profile so the bundled DuckDB is compiled once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
source scripts/destinations-env.sh   # tiktoken files + pgvector server for the real-destination tests
source .ci/env.sh
# PyAirbyte 0.71 pins duckdb 1.4.3: the compatibility tests open our cache files with it (and
# theirs with ours). A small venv, made once per machine.
DUCKDB_PY=$HOME/.cache/airbyte-rs/duckdb-1.4.3
if [ ! -x "$DUCKDB_PY/bin/python" ] || ! "$DUCKDB_PY/bin/python" -c "import duckdb" 2>/dev/null; then
  rm -rf "$DUCKDB_PY"
  python3 -m venv "$DUCKDB_PY" && "$DUCKDB_PY/bin/pip" install -q 'duckdb==1.4.3' \
    || echo "warning: could not install duckdb 1.4.3; the PyAirbyte compatibility tests will skip" >&2
fi
[ -x "$DUCKDB_PY/bin/python" ] && export ABRS_TEST_PYTHON_DUCKDB=$DUCKDB_PY/bin/python
# PyAirbyte 0.71.3 itself (with psycopg2) for the Postgres cache's compatibility test and the
# bench scripts; made once per machine.
PYAB=$HOME/.cache/airbyte-rs/pyab
if [ ! -x "$PYAB/bin/python" ] || ! "$PYAB/bin/python" -c "import airbyte, psycopg2" 2>/dev/null; then
  rm -rf "$PYAB"
  python3 -m venv "$PYAB" && "$PYAB/bin/pip" install -q 'airbyte==0.71.3' \
    || echo "warning: could not install PyAirbyte 0.71.3; the Postgres compatibility test will skip" >&2
fi
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --release
cargo test --workspace --release
# The Python package: the wheel built with maturin (reusing the compiled DuckDB), installed into a
# fresh venv, tests/python with pytest.
bash scripts/test-python.sh
