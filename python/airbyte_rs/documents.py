"""``Document``: a record rendered for LLM pipelines (``airbyte.documents``)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Document"]


@dataclass
class Document:
    """A record as Markdown ``content`` with ``metadata``; ``page_content`` for LangChain."""

    content: str
    id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    last_modified: _dt.datetime | str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.last_modified, str):
            try:
                self.last_modified = _dt.datetime.fromisoformat(self.last_modified)
            except ValueError:
                pass

    @property
    def page_content(self) -> str:
        """The content (LangChain's name for it)."""
        return self.content

    def __str__(self) -> str:
        return self.content
