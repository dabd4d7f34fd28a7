#!/usr/bin/env bash
# Side by side, in one run: moving N records from ../shared/bench's source-bench (a `cat` of
# pre-generated RECORD lines) into its destination-bench (counts records, echoes states):
#   limit      `cat RECORDS | destination-bench write`: the pair's own limit, no pipeline
#   pyairbyte  PyAirbyte 0.71.3 `Destination.write(source, cache=False)`
#   abrs       `abrs sync --cache none` (state in a DuckDB file, as PyAirbyte's default cache)
# Rounds alternate so that a drift of the machine's speed hits all three.
#
# Usage: scripts/bench-sync.sh [N=1000000]
# Env:   ABRS (default $CARGO_TARGET_DIR/release/abrs), PYAB_VENV (default
#        ~/.cache/airbyte-rs/pyab, made on first use), ROUNDS (2), WORK (/tmp/abrs-bench-sync),
#        BENCH (the bench kit, default ../shared/bench beside the repository)
# Prints a line per run (label, wall s, peak RSS MB of the tool's own process, records) and:
#   SUMMARY n=N limit_rps= pyairbyte_rps= abrs_rps= speedup= abrs_vs_limit= abrs_peak_rss_mb=
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-1000000}
ROUNDS=${ROUNDS:-2}
WORK=${WORK:-/tmp/abrs-bench-sync}
BENCH=${BENCH:-$ROOT/../shared/bench}
PYAB_VENV=${PYAB_VENV:-$HOME/.cache/airbyte-rs/pyab}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/airbyte-rs/target}
ABRS=${ABRS:-$TARGET/release/abrs}
[ -x "$ABRS" ] || { echo "bench-sync.sh: no abrs binary at $ABRS; build with cargo build --release or set ABRS" >&2; exit 2; }
[ -d "$BENCH/connector" ] || { echo "bench-sync.sh: the bench kit is not at $BENCH; set BENCH" >&2; exit 2; }
mkdir -p "$WORK"
if [ ! -x "$PYAB_VENV/bin/python" ]; then
  echo "setting up PyAirbyte in $PYAB_VENV (once)" >&2
  python3 -m venv "$PYAB_VENV"
  "$PYAB_VENV/bin/pip" install -q 'airbyte==0.71.3' >&2
fi
DATA=$WORK/records_${N}.jsonl
[ -s "$DATA" ] || "$PYAB_VENV/bin/python" "$BENCH/gen_records.py" "$DATA" "$N"
export BENCH_RECORDS_FILE=$DATA
export AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1 NO_LIVE_PROGRESS=1 PATH=$PYAB_VENV/bin:$PATH
export AIRBYTE_LOGGING_ROOT=$WORK/logs
SOURCE=$BENCH/connector/source-bench
DEST=$BENCH/connector/destination-bench
echo '{}' >"$WORK/config.json"
"$SOURCE" discover | python3 -c '
import json, sys
cat = json.loads(sys.stdin.readline())["catalog"]
print(json.dumps({"streams": [{"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "append"} for s in cat["streams"]]}))' >"$WORK/catalog.json"

# run LABEL CMD...: prints "LABEL wall_s peak_rss_mb"
run() {
  local label=$1; shift
  rm -rf "$WORK/cache_$label"
  local t=$WORK/time.txt
  ( cd "$WORK" && AIRBYTE_CACHE_ROOT=$WORK/cache_$label /usr/bin/time -f '%e %M' -o "$t" "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" ) || {
    echo "$label failed; see $WORK/$label.err" >&2; tail -5 "$WORK/$label.err" >&2; return 1; }
  read -r wall kb <"$t"
  echo "$label $wall $((kb / 1024))"
}

results=$WORK/results.txt; : >"$results"
for _ in $(seq "$ROUNDS"); do
  run limit sh -c "cat '$DATA' | '$DEST' write --config '$WORK/config.json' --catalog '$WORK/catalog.json' >/dev/null" | tee -a "$results"
  run pyairbyte "$PYAB_VENV/bin/python" "$ROOT/scripts/bench/pyairbyte_write.py" "$SOURCE" "$DEST" | tee -a "$results"
  run abrs "$ABRS" sync --source "$SOURCE" --destination "$DEST" --cache none | tee -a "$results"
  grep -q "records sent" "$WORK/abrs.err" || { echo "abrs printed no summary" >&2; cat "$WORK/abrs.err" >&2; exit 1; }
done
sed -n 's/.*: \([0-9,]*\) records sent.*/abrs records: \1/p' "$WORK/abrs.err" >&2
cat "$WORK/pyairbyte.out" >&2

awk -v n="$N" '
  { w[$1] = (w[$1] == "" || $2 < w[$1]) ? $2 : w[$1]; m[$1] = ($3 > m[$1]) ? $3 : m[$1] }
  END { l = n / w["limit"]; p = n / w["pyairbyte"]; a = n / w["abrs"];
        printf "SUMMARY n=%d limit_rps=%.0f pyairbyte_rps=%.0f abrs_rps=%.0f speedup=%.1f abrs_vs_limit=%.2f abrs_peak_rss_mb=%d pyairbyte_peak_rss_mb=%d\n",
               n, l, p, a, a / p, w["abrs"] / w["limit"], m["abrs"], m["pyairbyte"] }' "$results"
