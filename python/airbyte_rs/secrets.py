"""Secrets: ``get_secret``, ``SecretString`` and ``SecretSourceEnum`` (``airbyte.secrets``)."""

from __future__ import annotations

from enum import Enum

from airbyte_rs._native import get_secret

__all__ = ["SecretSourceEnum", "SecretString", "get_secret"]


class SecretSourceEnum(str, Enum):
    """The built-in secret sources."""

    ENV = "env"
    DOTENV = "dotenv"
    GOOGLE_GSM = "google_gsm"
    PROMPT = "prompt"


class SecretString(str):
    """A secret: a ``str`` that never shows its value in ``repr``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<SecretString: ****>"

    def is_empty(self) -> bool:
        """Whether the secret is the empty string."""
        return len(self) == 0
