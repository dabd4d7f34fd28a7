"""PyAirbyte 0.71.3 reading the benchmark manifest (the CDK in-process) into a DuckDB cache.

    python pyairbyte_manifest_read.py MANIFEST CONFIG_JSON CACHE_DIR
"""
import json
import sys
from pathlib import Path

import airbyte as ab

manifest, config, cache_dir = sys.argv[1], json.loads(Path(sys.argv[2]).read_text()), sys.argv[3]
source = ab.get_source("source-bench-manifest", config=config, source_manifest=Path(manifest))
source.select_all_streams()
cache = ab.DuckDBCache(db_path=f"{cache_dir}/bench.duckdb", cache_dir=cache_dir)
result = source.read(cache=cache)
print(f"records={result.processed_records}", file=sys.stderr)
