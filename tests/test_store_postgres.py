"""What only the PostgreSQL store does: migrations in a versions table, 64-bit columns,
the pool, and outbox offsets that commit in order under concurrent writers."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from starling.eventlog.open import open_outbox
from starling.events import Event, FollowCreated, to_payload
from starling.store.base import StoreError
from starling.store.postgres import PostgresStore
from starling.store.postgres_db import (
    EVENTS_LOCK,
    MIGRATIONS,
    migrate,
    schema_version,
)
from starling.store.postgres_transaction import APPEND
from tests.store_records import account, add_accounts, race

pytestmark = pytest.mark.postgres

WRITERS = 8
WRITES_EACH = 30
PATIENCE_S = 60.0
# Long enough for an append that does not wait to finish many times over.
BLOCKED_S = 0.5


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def conn(empty_postgres_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(empty_postgres_url, autocommit=True) as opened:
        yield opened


def test_opening_an_empty_database_applies_every_migration(empty_postgres_url: str) -> None:
    PostgresStore(empty_postgres_url).close()
    versions = query(empty_postgres_url, "SELECT version FROM schema_versions ORDER BY version")
    assert versions == [(v,) for v in range(1, len(MIGRATIONS) + 1)]


def test_opening_an_older_database_applies_missing_migrations(
    empty_postgres_url: str, conn: psycopg.Connection[tuple[object, ...]]
) -> None:
    migrate(conn, MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO accounts (id, username, username_lower, created_at)"
        " VALUES (1, 'Old', 'old', 0)"
    )
    store = PostgresStore(empty_postgres_url)
    try:
        assert schema_version(conn) == len(MIGRATIONS) > 1
        assert store.get_account_by_username("old") == account(1, username="Old")
    finally:
        store.close()


def test_migrations_apply_in_order_each_once(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    v1 = ("CREATE TABLE t (a BIGINT)",)
    v2 = ("ALTER TABLE t ADD COLUMN b BIGINT", "INSERT INTO t VALUES (1, 2)")
    migrate(conn, [v1])
    assert schema_version(conn) == 1
    # v1 would fail if run again: the table exists.
    migrate(conn, [v1, v2])
    assert schema_version(conn) == 2
    assert conn.execute("SELECT a, b FROM t").fetchall() == [(1, 2)]


def test_failed_migration_rolls_back_whole_step(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    v1 = ("CREATE TABLE t (a BIGINT)",)
    broken = ("CREATE TABLE u (a BIGINT)", "INSERT INTO missing VALUES (1)")
    with pytest.raises(psycopg.errors.UndefinedTable):
        migrate(conn, [v1, broken])
    assert schema_version(conn) == 1
    tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables")}
    assert "t" in tables
    assert "u" not in tables


def test_newer_database_is_refused(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    migrate(conn)
    conn.execute(
        "INSERT INTO schema_versions (version, applied_at) VALUES (%s, 0)", (len(MIGRATIONS) + 1,)
    )
    with pytest.raises(StoreError):
        migrate(conn)


def test_processes_opening_together_migrate_once(empty_postgres_url: str) -> None:
    stores = race(lambda _: PostgresStore(empty_postgres_url, pool_min=1), n=4)
    for store in stores:
        store.close()
    assert query(empty_postgres_url, "SELECT COUNT(*) FROM schema_versions") == [(len(MIGRATIONS),)]


def test_ids_times_and_counts_are_64_bit(postgres_url: str) -> None:
    narrow = query(
        postgres_url,
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND data_type IN ('integer', 'smallint')"
        " ORDER BY table_name, column_name",
    )
    # Only the 0/1 flags are narrow.
    assert narrow == [
        ("accounts", "bot"),
        ("follows", "notify"),
        ("mutes", "notifications"),
        ("posts", "sensitive"),
    ]


def test_more_threads_than_connections_share_the_pool(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, pool_min=1, pool_max=2)
    try:
        add_accounts(store, *range(1, 9))

        def work(i: int) -> None:
            for round_ in range(5):
                with store.transaction() as tx:
                    tx.set_last_active(i + 1, round_)
                store.get_accounts([i + 1])

        race(work, n=8)
        # Reads run in autocommit: no pooled connection is left inside a transaction.
        connections = query(
            postgres_url,
            "SELECT state FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        assert len(connections) <= 2
        assert all(state == "idle" for (state,) in connections)
        assert {a.last_active_at for a in store.get_accounts(range(1, 9)).values()} == {4}
    finally:
        store.close()


def test_offsets_commit_in_order_under_concurrent_writers(postgres_url: str) -> None:
    """A reader following the log never sees an offset before every smaller one: no gap
    is observed and filled later. Each write keeps its transaction open for a while after
    emitting, and some roll back, to give a later offset every chance to commit first."""
    store = PostgresStore(postgres_url)
    log = open_outbox(store)
    done = threading.Event()
    seen: list[Event] = []
    gaps: list[tuple[int, int]] = []

    def write(i: int) -> None:
        rng = random.Random(i)
        for n in range(WRITES_EACH):
            try:
                with store.transaction() as tx:
                    tx.emit(FollowCreated(i, n, n))
                    time.sleep(rng.random() / 500)
                    if n % 5 == 4:
                        raise _RolledBack
            except _RolledBack:
                pass

    def follow_log() -> None:
        while not done.is_set() or log.last_offset() > len(seen):
            for entry in log.replay(0, str(len(seen)), 100):
                if int(entry.position) != len(seen) + 1:
                    gaps.append((len(seen), int(entry.position)))
                    return
                seen.append(entry.event)

    reader = threading.Thread(target=follow_log)
    reader.start()
    try:
        race(write, n=WRITERS)
    finally:
        done.set()
        reader.join(PATIENCE_S)
        store.close()
        log.close()
    assert gaps == []
    committed = WRITERS * (WRITES_EACH - WRITES_EACH // 5)
    assert len(seen) == committed
    assert len(set(seen)) == committed


def test_an_append_waits_until_an_earlier_appender_commits(postgres_url: str) -> None:
    """An appender that holds offset 1 uncommitted keeps a later append (and so offset 2)
    from committing until it commits itself."""
    store = PostgresStore(postgres_url)
    log = open_outbox(store)
    try:
        with psycopg.connect(postgres_url) as earlier:
            earlier.execute("SELECT pg_advisory_xact_lock(%s)", (EVENTS_LOCK,))
            earlier.execute(APPEND, (EARLIER.TYPE, json.dumps(to_payload(EARLIER)), 1))
            later = threading.Thread(target=lambda: emit(store, LATER))
            later.start()
            later.join(BLOCKED_S)
            assert later.is_alive()
            assert log.replay(0, None, 10) == []
        later.join(PATIENCE_S)
        entries = log.replay(0, None, 10)
        assert [(e.position, e.event) for e in entries] == [("1", EARLIER), ("2", LATER)]
    finally:
        store.close()
        log.close()


EARLIER = FollowCreated(1, 2, 1)
LATER = FollowCreated(3, 4, 2)


def emit(store: PostgresStore, event: Event) -> None:
    with store.transaction() as tx:
        tx.emit(event)


class _RolledBack(Exception):
    pass
