# Shared build environment for .ci/run and developer shells: `source .ci/env.sh`.
# One target dir outside the clone and ccache for DuckDB's C++, so it is compiled once per machine.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/airbyte-rs/target}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/airbyte-rs/ccache}
if command -v ccache >/dev/null 2>&1; then
  export CC=${CC:-"ccache gcc"} CXX=${CXX:-"ccache g++"}
fi
# The Python extension (crates/python) leaves libpython's symbols to the interpreter that loads
# it, as maturin builds it: the same setting here keeps pyo3's build script from re-running
# between `cargo build --workspace` and `scripts/build-wheel.sh`.
export PYO3_BUILD_EXTENSION_MODULE=${PYO3_BUILD_EXTENSION_MODULE:-1}
