"""Sources read into DuckDB and PostgreSQL, datasets as pandas and Arrow, through airbyte_rs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

import airbyte_rs as ab
from conftest import fixture_source


def test_check_discover_and_select() -> None:
    source = fixture_source()
    assert isinstance(source, ab.Source)
    assert source.name == "source-fixture"
    source.check()
    assert sorted(source.get_available_streams()) == ["PurchaseOrders", "products", "users"]
    assert source.get_selected_streams() == []
    source.select_streams(["users", "products"])
    assert sorted(source.get_selected_streams()) == ["products", "users"]
    source.select_all_streams()
    assert len(source.get_selected_streams()) == 3
    assert source.config_spec["properties"]["count"]["type"] == "integer"
    assert source.get_config() == {"count": 10}
    catalog = source.discovered_catalog
    assert {s["name"] for s in catalog["streams"]} == {"users", "products", "PurchaseOrders"}
    assert "id" in source.get_stream_json_schema("users")["properties"]


def test_read_into_duckdb(duck: ab.DuckDBCache) -> None:
    source = fixture_source({"count": 25})
    source.select_all_streams()
    result = source.read(cache=duck)

    assert isinstance(result, ab.ReadResult)
    assert result.processed_records == 25 + 5 + 25
    assert sorted(result) == ["PurchaseOrders", "products", "users"]
    assert "users" in result and "nope" not in result
    assert len(result) == 3
    with pytest.raises(KeyError):
        result["nope"]
    # Case-insensitive after the exact name (PyAirbyte's case-sensitive lookup is its bug §6.14).
    assert len(result["Users"]) == 25
    assert result.cache is duck
    assert set(dict(result.items())) == set(result.keys())

    users = result["users"]
    assert isinstance(users, ab.CachedDataset)
    assert len(users) == 25
    assert users.stream_name == "users"
    assert "_airbyte_raw_id" in users.column_names

    rows = list(users)
    assert len(rows) == 25
    first = rows[0]
    assert isinstance(first, ab.StreamRecord)
    assert first["ID"] == first["id"]  # case-insensitive access
    assert isinstance(first["address"], dict)  # JSON columns come back parsed

    df = users.to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert df.shape[0] == 25
    assert sorted(df["id"].tolist()) == list(range(1, 26))

    arrow = users.to_arrow(max_chunk_size=10)
    assert isinstance(arrow, pads.Dataset)
    table = arrow.to_table()
    assert table.num_rows == 25
    assert max(b.num_rows for b in arrow.to_batches()) <= 10

    # The Arrow C stream interface: pyarrow takes the dataset itself.
    assert pa.table(users).num_rows == 25
    reader = pa.RecordBatchReader.from_stream(users)
    assert reader.read_all().num_rows == 25

    young = users.with_filter("id <= 5")
    assert len(young) == 5
    assert young.to_pandas().shape[0] == 5
    assert len(users.with_filter("id > 5", "id <= 7")) == 2

    # The cache itself.
    assert sorted(duck) == ["PurchaseOrders", "products", "users"]
    assert "users" in duck and len(duck) == 3
    assert duck["users"].stream_name == "users"
    assert len(duck.get_records("products")) == 5
    assert duck.get_pandas_dataframe("products").shape[0] == 5
    assert duck.get_arrow_dataset("products").to_table().num_rows == 5
    assert duck.run_sql_query("SELECT count(*) AS n FROM main.users") == [{"n": 25}]
    assert len(duck.run_sql_query("SELECT * FROM main.users", max_records=3)) == 3
    duck.execute_sql(["CREATE TABLE main.extra (x INTEGER)", "INSERT INTO main.extra VALUES (1)"])
    assert duck.run_sql_query("SELECT x FROM main.extra") == [{"x": 1}]
    assert set(duck.streams) == {"PurchaseOrders", "products", "users"}


def test_second_read_is_incremental(duck: ab.DuckDBCache) -> None:
    source = fixture_source({"count": 8})
    source.select_streams(["users"])
    first = source.read(duck)
    assert first.processed_records == 8
    second = source.read(duck)
    assert second.processed_records == 0  # the state stored in the cache was sent
    assert len(duck["users"]) == 8
    full = source.read(duck, force_full_refresh=True, write_strategy="replace")
    assert full.processed_records == 8
    assert len(duck["users"]) == 8


def test_default_cache_and_local_cache(tmp_path: Path) -> None:
    source = fixture_source({"count": 3})
    source.select_streams("users")
    result = source.read()  # the default cache, under ./.cache
    assert isinstance(result.cache, ab.DuckDBCache)
    assert Path(result.cache.db_path) == Path(".cache/default_cache/default_cache.duckdb").absolute() or (
        Path(result.cache.db_path).name == "default_cache.duckdb"
    )
    assert len(ab.get_default_cache()["users"]) == 3

    local = ab.new_local_cache("my_cache")
    assert Path(local.db_path).name == "db_my_cache.duckdb"
    source.read(local, force_full_refresh=True)
    assert len(ab.new_local_cache("my_cache")["users"]) == 3
    assert Path(ab.new_local_cache().db_path).name.startswith("db_")
    with pytest.raises(ab.exceptions.PyAirbyteError):
        ab.new_local_cache("not a valid name!")


def test_read_into_postgres(pg_cache: ab.PostgresCache) -> None:
    source = fixture_source({"count": 20})
    source.select_all_streams()
    result = source.read(pg_cache)
    assert result.processed_records == 45
    assert isinstance(result.cache, ab.PostgresCache)
    users = result["users"]
    assert len(users) == 20
    df = users.to_pandas()
    assert df.shape[0] == 20
    assert pa.table(users).num_rows == 20
    assert len(users.with_filter("id > 15")) == 5
    n = pg_cache.run_sql_query(f'SELECT count(*) AS n FROM "{pg_cache.schema_name}".users')
    assert n == [{"n": 20}]
    # Merge by primary key: a second full read keeps one row per id.
    source.read(pg_cache, force_full_refresh=True, write_strategy="merge", streams=["users"])
    assert len(pg_cache["users"]) == 20


def test_get_records_is_lazy_and_stops_the_connector(tmp_path: Path) -> None:
    source = fixture_source({"count": 5})
    records = source.get_records("users")
    assert isinstance(records, ab.LazyDataset)
    got = list(records)
    assert len(got) == 5
    assert all(isinstance(r, ab.StreamRecord) for r in got)
    assert got[0]["id"] == 1

    assert len(list(source.get_records("users", limit=2))) == 2

    # A dataset closed half-way stops its (slow) connector.
    pid_file = tmp_path / "pid"
    slow = fixture_source({"count": 1000, "sleep_per_record": 0.05, "pid_file": str(pid_file)})
    lazy = slow.get_records("users")
    assert next(lazy)["id"] == 1
    pid = int(pid_file.read_text())
    lazy.close()
    assert list(lazy) == []
    _wait_gone(pid)

    assert isinstance(source.get_records("users").fetch_all()[0], ab.StreamRecord)
    assert len(source.get_records("products").fetch_all()) == 5


def _wait_gone(pid: int, timeout: float = 15.0) -> None:
    import os
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # A zombie is gone for our purposes once its parent reaped it; poll /proc.
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
            if state == "Z":
                return
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError(f"connector {pid} still running")


def test_documents(duck: ab.DuckDBCache) -> None:
    source = fixture_source({"count": 3})
    source.select_streams(["users"])
    result = source.read(duck)
    docs = list(result["users"].to_documents(title_property="name", content_properties=["name"]))
    assert len(docs) == 3
    assert isinstance(docs[0], ab.Document)
    assert docs[0].page_content.startswith("# ")
    assert isinstance(docs[0].metadata, dict)


def test_config_from_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"count": 4}))
    source = fixture_source(str(path))
    assert source.get_config() == {"count": 4}


def test_reads_release_the_gil(tmp_path: Path) -> None:
    """While a read waits on its connector, other Python threads run."""
    import threading
    import time

    source = fixture_source({"count": 60, "sleep_per_record": 0.02})
    source.select_streams(["users"])
    done = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            source.read(ab.DuckDBCache(db_path=tmp_path / "gil.duckdb"))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            done.set()

    thread = threading.Thread(target=work)
    thread.start()
    ticks = 0
    started = time.monotonic()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    thread.join()
    assert not errors, errors
    elapsed = time.monotonic() - started
    assert elapsed > 0.5
    # About one tick per millisecond (sleep's resolution); a held GIL would give almost none.
    assert ticks > elapsed * 100, (ticks, elapsed)
