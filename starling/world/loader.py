"""Writes a built world into a store: records in chunks through `Store.bulk_load`.

The demo account goes through a transaction instead, the only way to store a password.
No events are emitted: the world is a snapshot, not a history of actions. See
docs/subsystems/world.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tqdm import tqdm

from starling.auth import hash_password
from starling.model import Account
from starling.store.base import Store
from starling.world.build import World
from starling.world.records import account_records, follow_records, like_rows, post_records

CHUNK_ROWS = 200_000
DEMO_PASSWORD = "demo-password"

Records = Callable[[World, slice], Sequence[Any]]


def load_world(store: Store, world: World, *, progress: bool = True) -> None:
    demo_row = world.population.demo
    _load(store, world, "accounts", _accounts_but_demo, world.population.size, progress)
    with store.transaction() as tx:
        demo = account_records(world, slice(demo_row, demo_row + 1))[0]
        tx.insert_account(demo, hash_password(DEMO_PASSWORD))
    _load(store, world, "posts", post_records, world.history.size, progress)
    _load(store, world, "follows", follow_records, world.follows.size, progress)
    _load(store, world, "likes", like_rows, world.likes.size, progress)


def _accounts_but_demo(world: World, rows: slice) -> list[Account]:
    demo_id = int(world.population.ids[world.population.demo])
    return [a for a in account_records(world, rows) if a.id != demo_id]


def _load(
    store: Store, world: World, table: str, records: Records, total: int, progress: bool
) -> None:
    with tqdm(total=total, desc=f"world: load {table}", unit="row", disable=not progress) as bar:
        for start in range(0, total, CHUNK_ROWS):
            rows = slice(start, min(start + CHUNK_ROWS, total))
            store.bulk_load(**{table: records(world, rows)})
            bar.update(rows.stop - rows.start)
