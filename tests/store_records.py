"""Records and small writes shared by the store tests of every backend."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

from starling.model import Account, Follow, Post
from starling.store.base import IdArray, Store

T = TypeVar("T")
THREADS = 16


def account(i: int, **fields: Any) -> Account:
    return replace(Account(i, f"user{i}", "", 0), **fields)


def post(i: int, author: int, **fields: Any) -> Post:
    return replace(Post(i, author, f"post {i}", i), **fields)


def add_accounts(store: Store, *ids: int) -> None:
    with store.transaction() as tx:
        for i in ids:
            tx.insert_account(account(i), None)


def add_posts(store: Store, *posts: Post) -> None:
    with store.transaction() as tx:
        for p in posts:
            tx.insert_post(p)


def follow(store: Store, follower: int, followee: int, at: int = 0, notify: bool = False) -> bool:
    with store.transaction() as tx:
        return tx.insert_follow(Follow(follower, followee, at, notify))


def race(work: Callable[[int], T], n: int = THREADS) -> list[T]:
    """Runs work(0..n-1) on n threads released together."""
    start = threading.Barrier(n)

    def run(i: int) -> T:
        start.wait()
        return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def ids(array: IdArray) -> list[int]:
    return sorted(int(i) for i in array)
