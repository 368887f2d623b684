"""The event logs (SQLite and PostgreSQL): atomic appends with writes, offsets, and
waking consumers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from starling.eventlog import sql as eventlog_sql
from starling.model import Account, Event
from starling.store.base import Store
from tests.fixtures_store import StoreFactory, WakeableLog, open_log

# Generous: these bound a hang when waking is broken, they do not measure speed.
PATIENCE_S = 30.0


@pytest.fixture
def store(make_store: StoreFactory, log: WakeableLog) -> Store:
    return make_store(on_commit=log.notify)


def emit(store: Store, *types: str) -> None:
    with store.transaction() as tx:
        for i, kind in enumerate(types):
            tx.emit(kind, {"n": i, "ids": [1, 2], "tag": "x", "flag": True, "none": None}, 7)


def test_empty_log(log: WakeableLog) -> None:
    assert log.last_offset() == 0
    assert log.read(0, 10) == []


def test_events_commit_with_the_write_and_survive_reopen(
    store_url: str, make_store: StoreFactory
) -> None:
    store = make_store()
    with store.transaction() as tx:
        tx.insert_account(Account(1, "alice", "", 0), None)
        tx.emit("account.created", {"id": 1}, 5)
    store.close()
    reopened_log = open_log(store_url)
    try:
        assert set(make_store().get_accounts([1])) == {1}
        assert reopened_log.read(0, 10) == [Event("account.created", {"id": 1}, 5, offset=1)]
    finally:
        reopened_log.close()


def test_rolled_back_events_vanish_and_offsets_stay_dense(store: Store, log: WakeableLog) -> None:
    emit(store, "a")
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.emit("lost", {}, 1)
        raise RuntimeError
    emit(store, "b", "c")
    events = log.read(0, 10)
    assert [(e.offset, e.type) for e in events] == [(1, "a"), (2, "b"), (3, "c")]
    assert events[0].payload == {"n": 0, "ids": [1, 2], "tag": "x", "flag": True, "none": None}
    assert log.last_offset() == 3


def test_read_after_and_limit(store: Store, log: WakeableLog) -> None:
    emit(store, *"abcde")
    assert [e.type for e in log.read(1, 2)] == ["b", "c"]
    assert [e.type for e in log.read(3, 100)] == ["d", "e"]
    assert log.read(5, 10) == []


def test_offsets_per_group_never_move_back(store_url: str, log: WakeableLog) -> None:
    assert log.committed("fanout") == 0
    log.commit("fanout", 5)
    log.commit("search", 2)
    log.commit("fanout", 3)
    assert (log.committed("fanout"), log.committed("search")) == (5, 2)
    log.commit("fanout", 8)
    reopened = open_log(store_url)
    try:
        assert reopened.committed("fanout") == 8
    finally:
        reopened.close()


def test_wait_returns_at_once_when_events_exist(store: Store, log: WakeableLog) -> None:
    emit(store, "a")
    assert log.wait(0, timeout_s=PATIENCE_S)


def test_wait_times_out_without_events(store: Store, log: WakeableLog) -> None:
    emit(store, "a")
    assert not log.wait(1, timeout_s=0.2)


def test_wait_wakes_on_notify(
    store: Store, log: WakeableLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With polling effectively off, only notify() can wake the waiter in time.
    monkeypatch.setattr(eventlog_sql, "POLL_INTERVAL_S", 3_600.0)
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(log.wait(0, 3_600.0)), daemon=True)
    waiter.start()
    emit(store, "a")
    waiter.join(PATIENCE_S)
    assert woke == [True]


def test_wait_sees_appends_from_another_process(store_url: str, log: WakeableLog) -> None:
    writer = textwrap.dedent(
        f"""
        from starling.store.open import open_store
        store = open_store({store_url!r})
        with store.transaction() as tx:
            tx.emit("remote", {{"pid": 1}}, 9)
        store.close()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", writer])
    try:
        assert log.wait(0, timeout_s=PATIENCE_S)
    finally:
        assert process.wait(PATIENCE_S) == 0
    assert [e.type for e in log.read(0, 10)] == ["remote"]
