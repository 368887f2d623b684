"""`open_store(url)`: the store of record a URL names. See docs/subsystems/store.md.

`sqlite:///relative/path` or `sqlite:////absolute/path` (SQLAlchemy's spelling) opens a
SqliteStore; `postgresql://...` (or `postgres://`) a PostgresStore.
"""

from __future__ import annotations

from pathlib import Path

from starling.store.base import Store, StoreError

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def open_store(url: str) -> Store:
    if url.startswith(SQLITE_PREFIX):
        from starling.store.sqlite import SqliteStore

        return SqliteStore(Path(url.removeprefix(SQLITE_PREFIX)))
    if url.startswith(POSTGRES_PREFIXES):
        from starling.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(f"no store for {url.split(':', 1)[0]!r} URLs; use sqlite:/// or postgresql://")
