"""Ctrl-C in Python stops a running read (and its connector) and raises KeyboardInterrupt;
what was committed before stays in the cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from conftest import SOURCE_FIXTURE

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import airbyte_rs as ab

    mode, pid_file, db = sys.argv[1], sys.argv[2], sys.argv[3]
    fixture = {fixture!r}
    cache = ab.DuckDBCache(db_path=db)
    first = ab.get_source("source-fixture", config={{"count": 3}}, local_executable=fixture)
    first.select_streams(["products"])
    first.read(cache)
    slow = ab.get_source(
        "source-fixture",
        config={{"count": 100000, "sleep_per_record": 0.01, "pid_file": pid_file, "state_every": 20}},
        local_executable=fixture,
    )
    slow.select_streams(["users"])
    print("ready", flush=True)
    started = time.monotonic()
    try:
        if mode == "read":
            slow.read(cache)
        else:
            for record in slow.get_records("users"):
                pass
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted after %.1f s" % (time.monotonic() - started), flush=True)
    pid = int(open(pid_file).read())
    deadline = time.monotonic() + 15
    gone = False
    while time.monotonic() < deadline and not gone:
        try:
            os.kill(pid, 0)
            state = open(f"/proc/{{pid}}/stat").read().split()[2]
            gone = state == "Z"
        except (ProcessLookupError, FileNotFoundError):
            gone = True
        time.sleep(0.05)
    print("connector_gone", gone, flush=True)
    print("products", len(cache["products"]), flush=True)
    """
)


def _run(mode: str, tmp_path: Path) -> str:
    script = tmp_path / "interrupt_me.py"
    script.write_text(SCRIPT.format(fixture=str(SOURCE_FIXTURE)))
    pid_file = tmp_path / "connector.pid"
    proc = subprocess.Popen(
        [sys.executable, str(script), mode, str(pid_file), str(tmp_path / "cache.duckdb")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AIRBYTE_LOGGING_ROOT": str(tmp_path / "logs")},
    )
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert pid_file.exists(), proc.communicate(timeout=30)
    time.sleep(1.0)  # let records (and states) flow
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    return out


def test_ctrl_c_stops_a_read(tmp_path: Path) -> None:
    out = _run("read", tmp_path)
    assert "interrupted after" in out, out
    assert "finished" not in out
    assert "connector_gone True" in out, out
    assert "products 5" in out, out


def test_ctrl_c_stops_get_records(tmp_path: Path) -> None:
    out = _run("records", tmp_path)
    assert "interrupted after" in out, out
    assert "connector_gone True" in out, out
