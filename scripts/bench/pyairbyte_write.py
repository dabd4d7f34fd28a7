#!/usr/bin/env python3
"""PyAirbyte's side of scripts/bench-sync.sh: `Destination.write(source, cache=False)` from a
local source connector into a local destination connector (both executables).

Usage (inside PyAirbyte's venv): python pyairbyte_write.py SOURCE_EXE DESTINATION_EXE
Prints one JSON line: records processed and the seconds of the write() call.
"""

import json
import sys
import time
from pathlib import Path

import airbyte as ab


def main() -> None:
    source_exe, destination_exe = (Path(p).absolute() for p in sys.argv[1:3])
    source = ab.get_source("source-bench", local_executable=source_exe, config={}, streams="*")
    destination = ab.get_destination(
        "destination-bench", local_executable=destination_exe, config={}
    )
    started = time.perf_counter()
    result = destination.write(source, cache=False)
    print(json.dumps({"records": result.processed_records, "write_s": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
