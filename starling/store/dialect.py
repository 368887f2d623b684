"""What differs between the SQL of SQLite and of PostgreSQL, and nothing else.

The schema (schema.py) and the shared queries (sql_reads.py, sql_transaction.py) are
written once with these fragments; each backend renders them with its dialect. Queries
use qmark placeholders (`?`); the PostgreSQL connection turns them into psycopg's `%s`.
See docs/subsystems/store.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    # Schema: ids and times are 64-bit everywhere (SQLite's INTEGER already is, and its
    # INTEGER PRIMARY KEY must stay spelled so to be the rowid).
    integer: str
    flag: str  # 0 or 1: shared row decoding turns it into a bool
    without_rowid: str
    log_offset: str  # the events table's key
    # Queries: membership in a list of ids passed as one parameter (any length, one query)
    in_ids: str
    ids: Callable[[Iterable[int]], object]
    greatest: str  # the larger of two values

    def render(self, template: str) -> str:
        return template.format(
            integer=self.integer,
            flag=self.flag,
            without_rowid=self.without_rowid,
            log_offset=self.log_offset,
        )


def json_ids(ids: Iterable[int]) -> str:
    return "[" + ",".join(map(str, ids)) + "]"


def int_list(ids: Iterable[int]) -> list[int]:
    """psycopg adapts Python ints, not numpy's."""
    return list(map(int, ids))


SQLITE = Dialect(
    name="sqlite",
    integer="INTEGER",
    flag="INTEGER",
    without_rowid=" WITHOUT ROWID",
    # AUTOINCREMENT: offsets are never reused, even if old events are pruned one day.
    log_offset="INTEGER PRIMARY KEY AUTOINCREMENT",
    in_ids="IN (SELECT value FROM json_each(?))",
    ids=json_ids,
    greatest="MAX",
)

POSTGRES = Dialect(
    name="postgres",
    integer="BIGINT",
    flag="SMALLINT",
    without_rowid="",
    # Assigned as MAX + 1 under the append lock (postgres_transaction.py), not by a
    # sequence: a sequence value can commit after a larger one, and a consumer would
    # skip it; and a rolled-back append would leave a hole.
    log_offset="BIGINT PRIMARY KEY",
    in_ids="= ANY(?::bigint[])",
    ids=int_list,
    greatest="GREATEST",
)
