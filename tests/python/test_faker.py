"""The real source-faker from PyPI, installed by airbyte-rs's own code, through airbyte_rs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

import airbyte_rs as ab
from conftest import VENVS


def test_source_faker_into_duckdb(tmp_path: Path) -> None:
    source = ab.get_source("source-faker", config={"count": 200, "seed": 7}, install_root=VENVS)
    source.check()
    assert {"users", "products", "purchases"} <= set(source.get_available_streams())
    source.select_streams(["users", "products"])
    cache = ab.DuckDBCache(db_path=tmp_path / "faker.duckdb")
    result = source.read(cache)
    assert len(result["users"]) == 200
    df = result["users"].to_pandas()
    assert df.shape[0] == 200
    assert {"id", "email", "age"} <= set(df.columns)
    assert pa.table(result["products"]).num_rows == len(result["products"]) > 0
    first = next(iter(source.get_records("users", limit=1)))
    assert "email" in first
