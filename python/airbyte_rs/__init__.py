"""airbyte_rs: PyAirbyte's API, backed by the airbyte-rs Rust library.

Moving over from PyAirbyte is one line::

    import airbyte_rs as ab   # instead of: import airbyte as ab

    source = ab.get_source("source-faker", config={"count": 1_000}, install_if_missing=True)
    source.check()
    source.select_all_streams()
    result = source.read()
    df = result["users"].to_pandas()

Records flow through the Rust pipeline, never as Python objects, until you ask for them.
"""

from __future__ import annotations

from airbyte_rs import caches, datasets, destinations, documents, exceptions, records, registry
from airbyte_rs import results, secrets, sources
from airbyte_rs._native import (
    CachedDataset,
    Destination,
    LazyDataset,
    ReadResult,
    Source,
    WriteResult,
    __version__,
    get_available_connectors,
    get_default_cache,
    get_destination,
    get_noop_destination,
    get_source,
    new_local_cache,
)
from airbyte_rs.caches import CacheBase, DuckDBCache, PostgresCache
from airbyte_rs.documents import Document
from airbyte_rs.records import StreamRecord
from airbyte_rs.secrets import SecretSourceEnum, SecretString, get_secret

__all__ = [
    "CacheBase",
    "CachedDataset",
    "Destination",
    "Document",
    "DuckDBCache",
    "LazyDataset",
    "PostgresCache",
    "ReadResult",
    "SecretSourceEnum",
    "SecretString",
    "Source",
    "StreamRecord",
    "WriteResult",
    "__version__",
    "caches",
    "datasets",
    "destinations",
    "documents",
    "exceptions",
    "get_available_connectors",
    "get_default_cache",
    "get_destination",
    "get_noop_destination",
    "get_secret",
    "get_source",
    "new_local_cache",
    "records",
    "registry",
    "results",
    "secrets",
    "sources",
]
