#!/usr/bin/env bash
# The main job on the embedded default: build abrs, read the sample connector's three streams into
# the default DuckDB cache (./.cache/default_cache/default_cache.duckdb) and query the result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
source .ci/env.sh
cargo build --release -p abrs-cli
ABRS=$CARGO_TARGET_DIR/release/abrs
"$ABRS" read tests/fixtures/source-fixture --config '{"count": 1000}'
"$ABRS" query "select count(*) as users, min(id) as first_id, max(id) as last_id from users"
