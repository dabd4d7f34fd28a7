#!/usr/bin/env bash
# airbyte_rs from Python against PyAirbyte 0.71.3, side by side on the same N records (default
# 1,000,000) from ../shared/bench's local connector into a fresh DuckDB cache, then
# `read(...)["bench"].to_pandas()` on both. ROUNDS (default 2) alternating rounds; the ratios
# use each side's fastest run. Builds and installs the wheel first (scripts/build-wheel.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
ROUNDS=${ROUNDS:-2}
BENCH=${BENCH_DIR:-$(cd ../shared/bench && pwd)}
WORK=${WORK:-/tmp/abrs-bench-python}
PYAB=$HOME/.cache/airbyte-rs/pyab
ABRS_VENV=${ABRS_VENV:-$HOME/.cache/airbyte-rs/bench-venv}
mkdir -p "$WORK"
RECORDS=$WORK/records_$N.jsonl
[ -s "$RECORDS" ] || python3 "$BENCH/gen_records.py" "$RECORDS" "$N"
export BENCH_RECORDS_FILE=$RECORDS
# No registry lookups or telemetry on either side (this machine is offline).
export AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1
if [ ! -x "$PYAB/bin/python" ] || ! "$PYAB/bin/python" -c "import airbyte" 2>/dev/null; then
  rm -rf "$PYAB"; python3 -m venv "$PYAB"; "$PYAB/bin/pip" install -q 'airbyte==0.71.3'
fi
bash scripts/build-wheel.sh "$ABRS_VENV" >/dev/null
CONNECTOR=$BENCH/connector/source-bench
for round in $(seq 1 "$ROUNDS"); do
  for side in airbyte airbyte_rs; do
    py=$PYAB/bin/python; [ "$side" = airbyte_rs ] && py=$ABRS_VENV/bin/python
    line=$(NO_LIVE_PROGRESS=1 "$py" scripts/bench/python_read.py "$side" "$CONNECTOR" "$WORK" 2>/dev/null | tail -1)
    echo "round $round $line"
    echo "$line" >> "$WORK/results_$$.jsonl"
  done
done
python3 - "$WORK/results_$$.jsonl" "$N" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
best = {}
for r in rows:
    m = r["module"]
    b = best.setdefault(m, {"read_s": r["read_s"], "to_pandas_s": r["to_pandas_s"]})
    b["read_s"] = min(b["read_s"], r["read_s"])
    b["to_pandas_s"] = min(b["to_pandas_s"], r["to_pandas_s"])
    assert r["rows"] == int(sys.argv[2]), r
py, rs = best["airbyte"], best["airbyte_rs"]
print(
    f"SUMMARY n={sys.argv[2]} pyairbyte_read_s={py['read_s']} airbyte_rs_read_s={rs['read_s']} "
    f"read_ratio={py['read_s'] / rs['read_s']:.1f} pyairbyte_to_pandas_s={py['to_pandas_s']} "
    f"airbyte_rs_to_pandas_s={rs['to_pandas_s']} to_pandas_ratio={py['to_pandas_s'] / rs['to_pandas_s']:.1f}"
)
PY
rm -f "$WORK/results_$$.jsonl"
