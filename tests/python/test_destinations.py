"""Destination writes from a source (straight through or through a cache) and from a ReadResult."""

from __future__ import annotations

import json
from pathlib import Path

import airbyte_rs as ab
from conftest import fixture_destination, fixture_source


def _rows(fixture_dir: Path, stream: str) -> list[dict]:
    path = fixture_dir / "tables" / f"{stream}.jsonl"
    return [json.loads(line)["data"] for line in path.read_text().splitlines() if line.strip()]


def test_write_straight_through(tmp_path: Path) -> None:
    source = fixture_source({"count": 12})
    source.select_streams(["users", "products"])
    out = tmp_path / "dest"
    destination = fixture_destination(out)
    destination.check()
    result = destination.write(source, cache=False, state_cache=ab.DuckDBCache(db_path=tmp_path / "state.duckdb"))
    assert isinstance(result, ab.WriteResult)
    assert result.processed_records == 17
    assert result.destination_name == "destination-fixture"
    assert len(_rows(out, "users")) == 12
    assert len(_rows(out, "products")) == 5


def test_write_through_a_cache_and_from_a_read_result(tmp_path: Path) -> None:
    source = fixture_source({"count": 6})
    source.select_streams(["users"])
    cache = ab.DuckDBCache(db_path=tmp_path / "cache.duckdb")
    out = tmp_path / "dest"
    destination = fixture_destination(out)
    result = destination.write(source, cache=cache)
    assert result.processed_records == 6
    assert len(cache["users"]) == 6
    assert len(_rows(out, "users")) == 6

    read_result = source.read(ab.DuckDBCache(db_path=tmp_path / "other.duckdb"))
    out2 = tmp_path / "dest2"
    again = fixture_destination(out2).write(read_result)
    assert again.processed_records == 6
    assert sorted(r["id"] for r in _rows(out2, "users")) == list(range(1, 7))


def test_noop_destination() -> None:
    source = fixture_source({"count": 9})
    source.select_streams(["users"])
    result = ab.get_noop_destination().write(source, cache=False, state_cache=False)
    assert result.processed_records == 9
