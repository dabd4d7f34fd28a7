"""Datasets (``airbyte.datasets``): ``CachedDataset``, ``LazyDataset``, ``InMemoryDataset``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airbyte_rs._native import CachedDataset, LazyDataset
from airbyte_rs.records import StreamRecord

__all__ = ["CachedDataset", "InMemoryDataset", "LazyDataset"]


class InMemoryDataset:
    """Records held in memory (what ``LazyDataset.fetch_all()`` returns)."""

    def __init__(self, records: list[StreamRecord], stream_metadata: Any = None) -> None:
        self._records = list(records)
        self.stream_metadata = stream_metadata

    def __iter__(self) -> Iterator[StreamRecord]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: int) -> StreamRecord:
        return self._records[index]

    def to_pandas(self) -> Any:
        """The records as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self._records)

    def to_arrow(self) -> Any:
        """The records as a ``pyarrow.Table``."""
        import pyarrow as pa

        return pa.Table.from_pylist([dict(r) for r in self._records])
