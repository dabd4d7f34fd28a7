"""Caches (``airbyte.caches``): DuckDB (default, a local file) and PostgreSQL."""

from airbyte_rs._native import get_default_cache, new_local_cache
from airbyte_rs._native import CacheBase, DuckDBCache, PostgresCache

__all__ = ["CacheBase", "DuckDBCache", "PostgresCache", "get_default_cache", "new_local_cache"]
