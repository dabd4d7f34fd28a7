#!/usr/bin/env bash
# The test command (README, and CI through .ci/run): formatting, lints, docs and every test,
# all in the release profile so the bundled DuckDB is compiled once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
source .ci/env.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --release
cargo test --workspace --release
