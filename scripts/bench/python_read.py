#!/usr/bin/env python3
"""One side of scripts/bench-python.sh: PyAirbyte or airbyte_rs, the same code.

Usage: python python_read.py MODULE CONNECTOR WORK_DIR
MODULE is `airbyte` (PyAirbyte) or `airbyte_rs`. Reads the `bench` stream of the local
CONNECTOR into a fresh DuckDB cache in WORK_DIR, then `result["bench"].to_pandas()`, and prints
one JSON line: import, read and to_pandas seconds, and the row counts.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import time
from pathlib import Path

t0 = time.perf_counter()
ab = importlib.import_module(sys.argv[1])
t_import = time.perf_counter() - t0

exe = Path(sys.argv[2]).absolute()
work = Path(sys.argv[3]).absolute() / sys.argv[1]
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)

cache = ab.DuckDBCache(db_path=work / "bench.duckdb", cache_dir=work / "files")
source = ab.get_source("source-bench", config={}, local_executable=str(exe))
source.select_streams(["bench"])
t1 = time.perf_counter()
result = source.read(cache=cache, force_full_refresh=True)
t_read = time.perf_counter() - t1
t2 = time.perf_counter()
df = result["bench"].to_pandas()
t_pandas = time.perf_counter() - t2
print(
    json.dumps(
        {
            "module": sys.argv[1],
            "import_s": round(t_import, 3),
            "read_s": round(t_read, 3),
            "to_pandas_s": round(t_pandas, 3),
            "records": result.processed_records,
            "rows": int(df.shape[0]),
            "columns": int(df.shape[1]),
        }
    ),
    flush=True,
)
