"""``StreamRecord``: one record, a dict whose keys are matched case-insensitively."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["StreamRecord"]

_NON_ALNUM = re.compile(r"[^a-z0-9]")


def _normalize(key: str) -> str:
    """PyAirbyte's ``LowerCaseNormalizer``: lower case, anything else than a-z0-9 → ``_``."""
    return _NON_ALNUM.sub("_", key.lower())


class StreamRecord(dict):  # type: ignore[type-arg]
    """A record of a stream (PyAirbyte's ``StreamRecord``).

    Keys keep the case the stream's schema gives them; lookups also accept the normalized
    form (``record["user_name"]`` finds ``"User Name"``).
    """

    def _resolve(self, key: object) -> object:
        if not isinstance(key, str) or dict.__contains__(self, key):
            return key
        wanted = _normalize(key)
        for k in dict.keys(self):
            if isinstance(k, str) and _normalize(k) == wanted:
                return k
        return key

    def __getitem__(self, key: object) -> Any:
        return dict.__getitem__(self, self._resolve(key))

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, self._resolve(key))

    def __delitem__(self, key: object) -> None:
        dict.__delitem__(self, self._resolve(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        dict.__setitem__(self, self._resolve(key), value)

    def get(self, key: object, default: Any = None) -> Any:
        resolved = self._resolve(key)
        return dict.get(self, resolved, default)  # type: ignore[call-overload]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):
            mine = {_normalize(k) if isinstance(k, str) else k: v for k, v in self.items()}
            theirs = {_normalize(k) if isinstance(k, str) else k: v for k, v in other.items()}
            return mine == theirs
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted((k, v) for k, v in self.items() if not isinstance(v, (dict, list)))))
