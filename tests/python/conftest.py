"""Shared fixtures of the airbyte_rs tests: the fixture connectors, caches, the real source-faker."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

import airbyte_rs as ab

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SOURCE_FIXTURE = FIXTURES / "source-fixture"
DESTINATION_FIXTURE = FIXTURES / "destination-fixture"
# Real connectors from PyPI are installed by our own install code into one persistent dir, so
# that re-runs are fast (the Rust tests use the same one).
VENVS = Path(os.environ.get("HOME", "/tmp")) / ".cache" / "airbyte-rs" / "test-venvs"

PG = {"host": "127.0.0.1", "port": 5432, "username": "postgres", "database": "test"}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test in its own directory: the default cache and logs land there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIRBYTE_LOGGING_ROOT", str(tmp_path / "logs"))


def fixture_source(config: dict | None = None, **kwargs) -> ab.Source:
    """The config-driven fixture source (tests/fixtures/source-fixture)."""
    return ab.get_source(
        "source-fixture",
        config=config if config is not None else {"count": 10},
        local_executable=str(SOURCE_FIXTURE),
        **kwargs,
    )


def fixture_destination(fixture_dir: Path, **config) -> ab.Destination:
    """The recording fixture destination, writing its tables under `fixture_dir`."""
    return ab.get_destination(
        "destination-fixture",
        config={"fixture_dir": str(fixture_dir), **config},
        local_executable=str(DESTINATION_FIXTURE),
    )


@pytest.fixture
def duck(tmp_path: Path) -> ab.DuckDBCache:
    return ab.DuckDBCache(db_path=tmp_path / "cache.duckdb")


@pytest.fixture
def pg_cache():
    """A PostgresCache in a schema of its own on the local server, dropped afterwards."""
    schema = f"abrs_py_{uuid.uuid4().hex[:10]}"
    cache = ab.PostgresCache(schema_name=schema, **PG)
    try:
        cache.execute_sql("SELECT 1")
    except ab.exceptions.PyAirbyteError as e:  # pragma: no cover - the server is part of CI
        pytest.fail(f"the PostgreSQL server at 127.0.0.1:5432 is needed: {e}")
    yield cache
    cache.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def python_exe() -> str:
    return sys.executable
