"""The connection interface the shared SQL code runs on, and its select helpers.

Each backend wraps its driver in a `Sql` (sqlite_file.SqliteSql, postgres_db.PostgresSql):
statements use qmark placeholders, and a violated uniqueness rule raises
store.base.Conflict whatever the driver. See docs/subsystems/store.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, Protocol

import numpy as np

from starling.model import Block, Mute, Post
from starling.store.base import IdArray
from starling.store.rows import (
    BLOCK_COLUMNS,
    MUTE_COLUMNS,
    POST_COLUMNS,
    mute_from_row,
    post_from_row,
)

Params = Sequence[object]


class Sql(Protocol):
    def rows(self, statement: str, params: Params = ()) -> Iterable[Any]:
        """Every row of a query."""

    def one(self, statement: str, params: Params = ()) -> Any:
        """The first row, or None."""

    def run(self, statement: str, params: Params = ()) -> int:
        """Runs a write; returns the number of rows it changed."""

    def many(self, statement: str, rows: Iterable[Params]) -> None:
        """Runs a write once per row of parameters."""


def select_posts(sql: Sql, where: str, params: Params) -> list[Post]:
    rows = sql.rows(f"SELECT {POST_COLUMNS} FROM posts WHERE {where}", params)
    return [post_from_row(row) for row in rows]


def select_blocks(sql: Sql, where: str, params: Params) -> list[Block]:
    rows = sql.rows(f"SELECT {BLOCK_COLUMNS} FROM blocks WHERE {where}", params)
    return [Block(*row) for row in rows]


def select_mutes(sql: Sql, where: str, params: Params) -> list[Mute]:
    rows = sql.rows(f"SELECT {MUTE_COLUMNS} FROM mutes WHERE {where}", params)
    return [mute_from_row(row) for row in rows]


def select_ids(sql: Sql, statement: str, params: Params) -> IdArray:
    return np.fromiter(chain.from_iterable(sql.rows(statement, params)), dtype=np.int64)
