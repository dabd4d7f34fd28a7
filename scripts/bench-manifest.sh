#!/usr/bin/env bash
# Side by side, in one run: a declarative manifest read from a mock API serving one stream of N
# records in pages of 1,000 (scripts/bench/manifest_api.py, pages rendered before the clock):
#   abrs       `abrs read --manifest` into a new DuckDB file (the native engine)
#   pyairbyte  PyAirbyte 0.71.3 `get_source(source_manifest=…).read()` into DuckDB (the CDK
#              in-process, as PyAirbyte runs manifest-only connectors)
#   cdk        airbyte-cdk's own `source-declarative-manifest read` (the differential kit's
#              venv, ../shared/declarative/CDK_VERSION) writing its messages to a file (as cheap
#              as /dev/null; its RECORD lines are counted after the clock)
# Rounds alternate, so that a drift of the machine's speed hits all three. Every run is checked
# to have read all N records (abrs's DuckDB table, the CDK's RECORD lines, PyAirbyte's count).
#
# Usage: scripts/bench-manifest.sh [N=100000]
# Env:   ABRS (default $CARGO_TARGET_DIR/release/abrs), PYAB_VENV (~/.cache/airbyte-rs/pyab, made
#        on first use), CDK_PY (the kit's venv python, made by its setup_cdk.sh), ROUNDS (2),
#        WORK (/tmp/abrs-bench-manifest)
# Prints a line per run (label, wall s, peak RSS MB, records) and:
#   SUMMARY n=N abrs_rps= pyairbyte_rps= cdk_rps= vs_pyairbyte= vs_cdk= abrs_peak_rss_mb=
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-100000}
ROUNDS=${ROUNDS:-2}
WORK=${WORK:-/tmp/abrs-bench-manifest}
KIT=${KIT:-$ROOT/../shared/declarative}
PYAB_VENV=${PYAB_VENV:-$HOME/.cache/airbyte-rs/pyab}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/airbyte-rs/target}
ABRS=${ABRS:-$TARGET/release/abrs}
[ -x "$ABRS" ] || { echo "bench-manifest.sh: no abrs binary at $ABRS; build with cargo build --release or set ABRS" >&2; exit 2; }
CDK_PY=${CDK_PY:-$(bash "$KIT/setup_cdk.sh" | tail -1)}
[ -x "$CDK_PY" ] || { echo "bench-manifest.sh: the CDK venv python ($CDK_PY) is missing; run $KIT/setup_cdk.sh" >&2; exit 2; }
if [ ! -x "$PYAB_VENV/bin/python" ]; then
  echo "setting up PyAirbyte in $PYAB_VENV (once)" >&2
  python3 -m venv "$PYAB_VENV"
  "$PYAB_VENV/bin/pip" install -q 'airbyte==0.71.3' >&2
fi
mkdir -p "$WORK"
export AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1 NO_LIVE_PROGRESS=1 AIRBYTE_LOGGING_ROOT=$WORK/logs
MANIFEST=$ROOT/scripts/bench/manifest_bench.yaml

python3 "$ROOT/scripts/bench/manifest_api.py" --records "$N" --page-size 1000 >"$WORK/api.out" &
API=$!
trap 'kill $API 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q READY "$WORK/api.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/READY/ {print $2}' "$WORK/api.out")
[ -n "$PORT" ] || { echo "bench-manifest.sh: the mock API did not start" >&2; exit 1; }
echo "{\"base_url\": \"http://127.0.0.1:$PORT\", \"token\": \"bench-token\"}" >"$WORK/config.json"
echo '{"streams": [{"stream": {"name": "items", "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}' >"$WORK/catalog.json"

# run LABEL CMD...: prints "LABEL wall_s peak_rss_mb"
run() {
  local label=$1; shift
  rm -rf "$WORK/cache_$label"; mkdir -p "$WORK/cache_$label"
  local t=$WORK/time.txt
  ( cd "$WORK" && AIRBYTE_CACHE_ROOT=$WORK/cache_$label /usr/bin/time -f '%e %M' -o "$t" "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" ) || {
    echo "$label failed; see $WORK/$label.err" >&2; tail -5 "$WORK/$label.err" >&2; return 1; }
  read -r wall kb <"$t"
  echo "$label $wall $((kb / 1024))"
}

# count LABEL: the records the run just made read (each run is checked, after its clock).
count() {
  case $1 in
    abrs) "$ABRS" query --cache "$WORK/cache_abrs/bench.duckdb" "select count(*) as n from items" --format json 2>/dev/null | tr -dc '0-9' ;;
    cdk) grep -c '"type": *"RECORD"' "$WORK/cdk.records" || true ;;
    pyairbyte) sed -n 's/^records=//p' "$WORK/pyairbyte.err" | tail -1 ;;
  esac
}

results=$WORK/results.txt; : >"$results"
for _ in $(seq "$ROUNDS"); do
  for label in abrs cdk pyairbyte; do
    case $label in
      abrs) line=$(run abrs "$ABRS" read source-bench-manifest --manifest "$MANIFEST" --config "$WORK/config.json" \
              --cache "$WORK/cache_abrs/bench.duckdb") ;;
      # The CDK's output goes to a file (not a pipe a reader would slow down), counted afterwards.
      cdk) line=$(run cdk sh -c "'$CDK_PY' '$KIT/cdk_sdm.py' read --config '$WORK/config.json' --catalog '$WORK/catalog.json' --manifest-path '$MANIFEST' >'$WORK/cdk.records'") ;;
      pyairbyte) line=$(run pyairbyte "$PYAB_VENV/bin/python" "$ROOT/scripts/bench/pyairbyte_manifest_read.py" "$MANIFEST" "$WORK/config.json" "$WORK/cache_pyairbyte") ;;
    esac
    got=$(count "$label")
    [ "$got" = "$N" ] || { echo "bench-manifest.sh: $label read $got records, not $N" >&2; exit 1; }
    echo "$line $got" | tee -a "$results"
  done
done
rm -f "$WORK/cdk.records"
awk -v n="$N" '
  { if (!($1 in best) || $2 < best[$1]) best[$1] = $2; if ($1 == "abrs" && $3 > rss) rss = $3 }
  END {
    a = n / best["abrs"]; p = n / best["pyairbyte"]; c = n / best["cdk"]
    printf "SUMMARY n=%d abrs_rps=%d pyairbyte_rps=%d cdk_rps=%d vs_pyairbyte=%.1f vs_cdk=%.1f abrs_peak_rss_mb=%d\n", n, a, p, c, a / p, a / c, rss
  }' "$results"
