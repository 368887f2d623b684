"""Builds the store of record from its URL. See docs/subsystems/store.md.

`sqlite:///relative/path` or `sqlite:////absolute/path`: the embedded store.
"""

from __future__ import annotations

from pathlib import Path

from starling.store.base import Store
from starling.store.sqlite import SqliteStore


def open_store(url: str) -> Store:
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite" and rest.startswith("/"):
        return SqliteStore(Path(rest[1:]))
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///PATH")
