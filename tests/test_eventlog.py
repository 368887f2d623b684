"""The SQLite event log: atomic appends with writes, offsets, and waking consumers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from starling.eventlog import sqlite as eventlog_sqlite
from starling.eventlog.sqlite import SqliteEventLog
from starling.model import Account, Event
from starling.store.sqlite import SqliteStore

# Generous: these bound a hang when waking is broken, they do not measure speed.
PATIENCE_S = 30.0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "starling.sqlite3"


@pytest.fixture
def log(path: Path) -> Iterator[SqliteEventLog]:
    opened = SqliteEventLog(path)
    yield opened
    opened.close()


@pytest.fixture
def store(path: Path, log: SqliteEventLog) -> Iterator[SqliteStore]:
    opened = SqliteStore(path, on_commit=log.notify)
    yield opened
    opened.close()


def emit(store: SqliteStore, *types: str) -> None:
    with store.transaction() as tx:
        for i, kind in enumerate(types):
            tx.emit(kind, {"n": i, "ids": [1, 2], "tag": "x", "flag": True, "none": None}, 7)


def test_empty_log(log: SqliteEventLog) -> None:
    assert log.last_offset() == 0
    assert log.read(0, 10) == []


def test_events_commit_with_the_write_and_survive_reopen(path: Path, store: SqliteStore) -> None:
    with store.transaction() as tx:
        tx.insert_account(Account(1, "alice", "", 0), None)
        tx.emit("account.created", {"id": 1}, 5)
    store.close()
    reopened_store = SqliteStore(path)
    reopened_log = SqliteEventLog(path)
    try:
        assert set(reopened_store.get_accounts([1])) == {1}
        assert reopened_log.read(0, 10) == [Event("account.created", {"id": 1}, 5, offset=1)]
    finally:
        reopened_store.close()
        reopened_log.close()


def test_rolled_back_events_vanish_and_offsets_stay_dense(
    store: SqliteStore, log: SqliteEventLog
) -> None:
    emit(store, "a")
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.emit("lost", {}, 1)
        raise RuntimeError
    emit(store, "b", "c")
    events = log.read(0, 10)
    assert [(e.offset, e.type) for e in events] == [(1, "a"), (2, "b"), (3, "c")]
    assert events[0].payload == {"n": 0, "ids": [1, 2], "tag": "x", "flag": True, "none": None}
    assert log.last_offset() == 3


def test_read_after_and_limit(store: SqliteStore, log: SqliteEventLog) -> None:
    emit(store, *"abcde")
    assert [e.type for e in log.read(1, 2)] == ["b", "c"]
    assert [e.type for e in log.read(3, 100)] == ["d", "e"]
    assert log.read(5, 10) == []


def test_offsets_per_group_never_move_back(path: Path, log: SqliteEventLog) -> None:
    assert log.committed("fanout") == 0
    log.commit("fanout", 5)
    log.commit("search", 2)
    log.commit("fanout", 3)
    assert (log.committed("fanout"), log.committed("search")) == (5, 2)
    log.commit("fanout", 8)
    reopened = SqliteEventLog(path)
    try:
        assert reopened.committed("fanout") == 8
    finally:
        reopened.close()


def test_wait_returns_at_once_when_events_exist(store: SqliteStore, log: SqliteEventLog) -> None:
    emit(store, "a")
    assert log.wait(0, timeout_s=PATIENCE_S)


def test_wait_times_out_without_events(store: SqliteStore, log: SqliteEventLog) -> None:
    emit(store, "a")
    assert not log.wait(1, timeout_s=0.2)


def test_wait_wakes_on_notify(
    store: SqliteStore, log: SqliteEventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With polling effectively off, only notify() can wake the waiter in time.
    monkeypatch.setattr(eventlog_sqlite, "POLL_INTERVAL_S", 3_600.0)
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(log.wait(0, 3_600.0)), daemon=True)
    waiter.start()
    emit(store, "a")
    waiter.join(PATIENCE_S)
    assert woke == [True]


def test_wait_sees_appends_from_another_process(path: Path, log: SqliteEventLog) -> None:
    writer = textwrap.dedent(
        f"""
        from pathlib import Path
        from starling.store.sqlite import SqliteStore
        store = SqliteStore(Path({str(path)!r}))
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
