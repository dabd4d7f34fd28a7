"""Results (``airbyte.results``): ``ReadResult`` (a mapping of stream → dataset), ``WriteResult``."""

from collections.abc import Mapping

from airbyte_rs._native import ReadResult, WriteResult

Mapping.register(ReadResult)

__all__ = ["ReadResult", "WriteResult"]
