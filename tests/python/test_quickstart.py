"""PyAirbyte's own quickstart examples, run through airbyte_rs.

Each script is PyAirbyte's, with `import airbyte as ab` changed to `import airbyte_rs as ab` and
nothing else, except where said: PyAirbyte's sync examples write to Docker's
`destination-duckdb`, which this offline machine cannot pull, so they use the local fixture
destination instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import DESTINATION_FIXTURE, VENVS

# The README's (and the Colab notebook's) quickstart.
README_QUICKSTART = """
import airbyte_rs as ab

source = ab.get_source(
    "source-faker",
    config={"count": 5_000},
    install_if_missing=True,
)
source.check()
source.select_all_streams()
result = source.read()

for name, records in result.streams.items():
    print(f"Stream {name}: {len(list(records))} records")
"""

# examples/run_faker.py
RUN_FAKER = '''
"""A simple test of PyAirbyte, using the Faker source connector."""
from __future__ import annotations

import airbyte_rs as ab

SCALE = 200_000  # Number of records to generate between users and purchases.
FORCE_FULL_REFRESH = True  # Whether to force a full refresh on the source.

cache = ab.get_default_cache()
source = ab.get_source(
    "source-faker",
    config={"count": SCALE / 2},
    install_if_missing=True,
)
source.check()
source.select_streams(["products", "users", "purchases"])

result = source.read(
    cache=cache,
    force_full_refresh=FORCE_FULL_REFRESH,
)
print("Read complete. Validating results...")
for name, records in result.streams.items():
    print(f"Stream {name}: {len(records)} records")
'''

# examples/run_sync_to_destination_from_read_result.py, with the fixture destination for
# Docker's destination-duckdb and a smaller SCALE.
SYNC_FROM_READ_RESULT = '''
from __future__ import annotations

import datetime

import airbyte_rs as ab

SCALE = 2_000


def get_my_source() -> ab.Source:
    return ab.get_source(
        "source-faker",
        config={
            "count": SCALE,
            "seed": 1234,
            "parallelism": 16,
        },
        streams=["purchases"],
    )


def get_my_destination() -> ab.Destination:
    return ab.get_destination(
        name="destination-fixture",
        config={"fixture_dir": "dest"},
        local_executable=DESTINATION,
    )


def main() -> None:
    """Test writing from the source to the destination."""
    source = get_my_source()
    source.check()
    destination = get_my_destination()
    destination.check()
    read_result: ab.ReadResult = source.read(
        cache=ab.new_local_cache(),
    )
    print(
        "Completed reading from source at "
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S')}. "
        "Writing to destination..."
    )
    write_result: ab.WriteResult = destination.write(
        source_data=read_result,
    )
    print(
        f"Completed writing {write_result.processed_records:,} records "
        f"to destination at {datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S')}."
    )


if __name__ == "__main__":
    main()
'''

# examples/run_sync_to_destination_w_cache.py, adapted as above.
SYNC_WITH_CACHE = '''
from __future__ import annotations

import datetime

import airbyte_rs as ab

SCALE = 2_000


def get_my_source() -> ab.Source:
    return ab.get_source(
        "source-faker",
        config={
            "count": SCALE,
            "seed": 1234,
            "parallelism": 16,
        },
        streams="*",
    )


def get_my_destination() -> ab.Destination:
    return ab.get_destination(
        name="destination-fixture",
        config={"fixture_dir": "dest"},
        local_executable=DESTINATION,
    )


def main() -> None:
    """Test writing from the source to the destination."""
    source = get_my_source()
    source.check()
    destination = get_my_destination()
    destination.check()
    write_result: ab.WriteResult = destination.write(
        source_data=source,
        cache=ab.new_local_cache(),
    )
    print(
        f"Completed writing {write_result.processed_records:,} records "
        f"to destination at {datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S')}."
    )


if __name__ == "__main__":
    main()
'''


def _run(tmp_path: Path, code: str) -> str:
    script = tmp_path / "example.py"
    code = textwrap.dedent(code).replace(
        "local_executable=DESTINATION", f"local_executable={str(DESTINATION_FIXTURE)!r}"
    )
    script.write_text(code)
    env = {
        **os.environ,
        # Where PyAirbyte's own examples would install faker (its AIRBYTE_INSTALL_DIR).
        "AIRBYTE_INSTALL_DIR": str(VENVS),
        "AIRBYTE_LOGGING_ROOT": str(tmp_path / "logs"),
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def test_readme_quickstart(tmp_path: Path) -> None:
    out = _run(tmp_path, README_QUICKSTART)
    assert "Stream users: 5000 records" in out, out
    assert "Stream products: " in out and "Stream purchases: " in out


def test_examples_run_faker(tmp_path: Path) -> None:
    out = _run(tmp_path, RUN_FAKER)
    assert "Read complete. Validating results..." in out
    assert "Stream users: 100000 records" in out, out


def test_examples_sync_from_read_result(tmp_path: Path) -> None:
    out = _run(tmp_path, SYNC_FROM_READ_RESULT)
    assert "Completed reading from source" in out
    assert "Completed writing " in out and " records to destination" in out
    assert (tmp_path / "dest" / "tables" / "purchases.jsonl").exists()


def test_examples_sync_with_cache(tmp_path: Path) -> None:
    out = _run(tmp_path, SYNC_WITH_CACHE)
    assert "Completed writing " in out
    assert (tmp_path / "dest" / "tables" / "users.jsonl").exists()


def test_our_readme_python_quickstart(tmp_path: Path) -> None:
    """README.md's Python quickstart (examples/python/quickstart.py), as it is."""
    code = (Path(__file__).resolve().parents[2] / "examples" / "python" / "quickstart.py").read_text()
    out = _run(tmp_path, code)
    assert "Stream users: 1000 records" in out, out
    assert "users over 30: " in out
    assert "as expected: " in out
    assert " records written" in out
