"""Sources (``airbyte.sources``)."""

from airbyte_rs._native import Source, get_source

__all__ = ["Source", "get_source"]
