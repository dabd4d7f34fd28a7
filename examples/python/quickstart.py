"""The Python quickstart of the README: source-faker into the default DuckDB cache."""

import airbyte_rs as ab

source = ab.get_source("source-faker", config={"count": 1_000}, install_if_missing=True)
source.check()
source.select_all_streams()
result = source.read()  # the default DuckDB cache: .cache/default_cache/default_cache.duckdb

for name, records in result.streams.items():
    print(f"Stream {name}: {len(records)} records")

users = result["users"].to_pandas()  # a pandas DataFrame, through Arrow
print(users[["id", "name", "age"]].head())
over_30 = result["users"].with_filter("age > 30")
print(f"users over 30: {len(over_30)}")

try:
    source.select_streams(["no_such_stream"])
except ab.exceptions.AirbyteStreamNotFoundError as e:  # PyAirbyte's exception classes
    print(f"as expected: {e.get_message()}")

# Write the cached streams to a destination (here one that discards them).
written = ab.get_noop_destination().write(result)
print(f"{written.processed_records} records written")
