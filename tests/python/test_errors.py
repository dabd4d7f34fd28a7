"""Failures raise PyAirbyte's exception classes, so PyAirbyte's `except` clauses carry over."""

from __future__ import annotations

from pathlib import Path

import pytest

import airbyte_rs as ab
from airbyte_rs import exceptions as exc
from conftest import fixture_source


def test_hierarchy_matches_pyairbyte() -> None:
    assert issubclass(exc.PyAirbyteInputError, ValueError)
    assert issubclass(exc.PyAirbyteNoStreamsSelectedError, exc.PyAirbyteInputError)
    assert issubclass(exc.AirbyteConnectorCheckFailedError, exc.AirbyteConnectorError)
    assert issubclass(exc.AirbyteConnectorError, exc.PyAirbyteError)
    assert issubclass(exc.AirbyteStateNotFoundError, KeyError)
    assert issubclass(exc.AirbyteConnectorNotRegisteredError, exc.AirbyteConnectorRegistryError)


def test_check_failed() -> None:
    source = fixture_source({"check_should_fail": True})
    with pytest.raises(exc.AirbyteConnectorCheckFailedError) as info:
        source.check()
    e = info.value
    assert isinstance(e, exc.AirbyteConnectorError)
    assert isinstance(e, exc.PyAirbyteError)
    assert "AirbyteConnectorCheckFailedError" in str(e)
    assert e.context.get("connector_name") == "source-fixture"


def test_stream_not_found_and_no_streams() -> None:
    source = fixture_source()
    with pytest.raises(exc.AirbyteStreamNotFoundError) as info:
        source.select_streams(["no_such_stream"])
    assert "no_such_stream" in str(info.value)
    with pytest.raises(exc.PyAirbyteNoStreamsSelectedError):
        source.read(ab.DuckDBCache(db_path="nostreams.duckdb"))


def test_input_errors_are_value_errors() -> None:
    source = fixture_source()
    source.select_streams(["users"])
    with pytest.raises(exc.PyAirbyteInputError):
        source.read(ab.DuckDBCache(db_path="x.duckdb"), write_strategy="sideways")
    with pytest.raises(ValueError):
        source.read(ab.DuckDBCache(db_path="x.duckdb"), write_strategy="sideways")
    with pytest.raises(exc.PyAirbyteInputError):
        ab.get_source("source-fixture", local_executable="/bin/true", docker_image=True)


def test_missing_executable() -> None:
    with pytest.raises(exc.AirbyteConnectorExecutableNotFoundError) as info:
        ab.get_source("source-fixture", local_executable="/nonexistent/source-fixture")
    assert isinstance(info.value, exc.AirbyteConnectorError)


def test_validation_failed() -> None:
    source = fixture_source()
    with pytest.raises(exc.AirbyteConnectorValidationFailedError):
        source.set_config({"count": "many"})


def test_connector_crash_keeps_committed_data(tmp_path: Path) -> None:
    cache = ab.DuckDBCache(db_path=tmp_path / "crash.duckdb")
    ok = fixture_source({"count": 5})
    ok.select_streams(["products"])
    ok.read(cache)
    crashing = fixture_source({"count": 50, "mode": "crash_mid_read"})
    crashing.select_streams(["users"])
    with pytest.raises(exc.AirbyteConnectorError) as info:
        crashing.read(cache)
    e = info.value
    assert e.log_file is not None and Path(e.log_file).exists()
    assert "Log file:" in str(e)
    # What was committed before stays.
    assert len(cache["products"]) == 5


def test_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABRS_PY_TEST_SECRET", "s3cr3t")
    secret = ab.get_secret("ABRS_PY_TEST_SECRET", allow_prompt=False)
    assert isinstance(secret, ab.SecretString) and isinstance(secret, str)
    assert secret == "s3cr3t"
    assert "s3cr3t" not in repr(secret)
    with pytest.raises(exc.PyAirbyteSecretNotFoundError):
        ab.get_secret("ABRS_PY_TEST_NO_SUCH_SECRET", allow_prompt=False)
    assert ab.get_secret("ABRS_PY_TEST_NO_SUCH_SECRET", default="d", allow_prompt=False) == "d"


def test_available_connectors() -> None:
    names = ab.get_available_connectors()
    assert "source-faker" in names
    assert "source-pokeapi" in ab.get_available_connectors("yaml")
    with pytest.raises(exc.PyAirbyteInputError):
        ab.get_available_connectors("cobol")
