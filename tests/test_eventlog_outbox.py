"""The outbox log on SQLite: events commit with the write, offsets stay dense, readers
wake on commits in this process and by polling on commits from another."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from starling.eventlog import wakeup
from starling.eventlog.open import open_log
from starling.eventlog.outbox import OutboxLog
from starling.events import AccountCreated
from starling.model import Account
from starling.store.sqlite import SqliteStore
from tests.counting import Counting

PATIENCE_S = 30.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "data" / "starling.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def log(store: SqliteStore) -> Iterator[OutboxLog]:
    opened = open_log(None, store)
    assert isinstance(opened, OutboxLog)
    yield opened
    opened.close()


def created(account_id: int) -> AccountCreated:
    return AccountCreated(account_id, f"user{account_id}", "eu", False, 5)


def test_events_commit_with_the_write_and_survive_reopen(store: SqliteStore) -> None:
    with store.transaction() as tx:
        tx.insert_account(Account(1, "alice", "", 0), None)
        tx.emit(created(1))
    store.close()
    reopened = SqliteStore(store.path)
    log = open_log(None, reopened)
    try:
        assert set(reopened.get_accounts([1])) == {1}
        assert [(e.event, e.position) for e in log.replay(0, None, 10)] == [(created(1), "1")]
    finally:
        log.close()
        reopened.close()


def test_rolled_back_events_vanish_and_offsets_stay_dense(
    store: SqliteStore, log: OutboxLog
) -> None:
    with store.transaction() as tx:
        tx.emit(created(1))
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.emit(created(2))
        raise RuntimeError
    with store.transaction() as tx:
        tx.emit(created(3))
    entries = log.replay(0, None, 10)
    assert [(e.position, e.event) for e in entries] == [("1", created(1)), ("2", created(3))]
    assert log.last_offset() == 2


def test_trim_drops_only_relayed_events_past_retention(store: SqliteStore, log: OutboxLog) -> None:
    with store.transaction() as tx:
        for i in range(4):
            tx.emit(AccountCreated(i, f"u{i}", "", False, 100 * i))
    assert log.retained_from(upto=3, since_ms=150) == 3  # offset 3 is dated 200
    assert log.retained_from(upto=1, since_ms=150) == 2  # none at or below 1 is that new
    assert log.trim(upto=3, older_than_ms=150) == 2  # offsets 1-2 are old enough
    assert [e.position for e in log.replay(0, None, 10)] == ["3", "4"]
    assert log.last_offset() == 4


def test_a_consumer_writes_the_store_once_per_batch_while_its_lease_is_fresh(
    store: SqliteStore,
) -> None:
    with store.transaction() as tx:
        for i in range(3):
            tx.emit(created(i))
    store_sql, dialect = store.outbox()
    sql = Counting(store_sql)
    log = OutboxLog(sql, dialect)
    try:
        log.commit("g", "c", log.read("g", "c", 1))  # takes the lease: one write more
        sql.reset()
        for _ in range(2):
            log.commit("g", "c", log.read("g", "c", 1))
        # The events being logged keep the store's single writer busy: only the commits.
        assert sql.calls["run"] == 2
    finally:
        log.close()


def test_a_commit_waits_out_another_writer_holding_the_file(
    store: SqliteStore, log: OutboxLog
) -> None:
    with store.transaction() as tx:
        tx.emit(created(1))
    entries = log.read("g", "c", 10)
    writer = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")  # holds the file's single writer lock
    releasing = threading.Timer(0.2, lambda: writer.execute("COMMIT"))
    releasing.start()
    try:
        log.commit("g", "c", entries)  # waits, then commits
    finally:
        releasing.join()
        writer.close()
    assert log.committed("g") == 1


def test_wait_wakes_on_a_commit_in_this_process(
    store: SqliteStore, log: OutboxLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With polling effectively off, only the commit listener can wake the waiter in time.
    monkeypatch.setattr(wakeup, "POLL_INTERVAL_S", 3_600.0)
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(log.wait("g", "c", 3_600.0)))
    waiter.start()
    with store.transaction() as tx:
        tx.emit(created(1))
    waiter.join(PATIENCE_S)
    assert woke == [True]


def test_wait_sees_appends_from_another_process(store: SqliteStore, log: OutboxLog) -> None:
    writer = textwrap.dedent(
        f"""
        from pathlib import Path
        from starling.events import AccountCreated
        from starling.store.sqlite import SqliteStore
        store = SqliteStore(Path({str(store.path)!r}))
        with store.transaction() as tx:
            tx.emit(AccountCreated(9, "remote", "", False, 9))
        store.close()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", writer])
    try:
        assert log.wait("g", "c", timeout_s=PATIENCE_S)
    finally:
        assert process.wait(PATIENCE_S) == 0
    assert [e.event.TYPE for e in log.read("g", "c", 10)] == ["account.created"]
