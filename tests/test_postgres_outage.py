"""PostgreSQL lost while serving: a private durable server is crashed (`pg_ctl stop -m
immediate`) under a running instance, then started again on its port and data. During
the outage every request answers 503 with Retry-After, none 500; once the server is back
the same app answers again (its pool recovered by itself), no acknowledged post is lost,
a keyed post retried is posted once, and the fan-out thread waits the outage out and
catches up."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from starling.localpostgres import LocalPostgres
from starling.runtime import Runtime
from starling.store import postgres_db
from starling.store.base import Store, StoreUnavailable
from starling.store.postgres import PostgresStore
from starling.workers import base as worker_base
from tests.api_batch import assert_all_unavailable, codes, prepare
from tests.fixtures_api import Api, ApiFactory, User
from tests.fixtures_runtime import RuntimeFactory
from tests.store_records import add_accounts

pytestmark = pytest.mark.postgres

POOL_TIMEOUT_S = 0.1  # a request during the outage waits this long for a connection
PATIENCE_S = 10.0


@pytest.fixture(autouse=True)
def short_pool_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pools opened from now on give up waiting for a connection after 0.1 s."""
    monkeypatch.setattr(postgres_db, "POOL_TIMEOUT_S", POOL_TIMEOUT_S)


@pytest.fixture
def store(own_postgres: LocalPostgres) -> Iterator[PostgresStore]:
    opened = PostgresStore(own_postgres.url, pool_min=4)
    yield opened
    opened.close()


def wait_until(condition: Callable[[], bool], timeout_s: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def answers(condition: Callable[[], bool]) -> Callable[[], bool]:
    """The condition, False while the store is unavailable (the pool reconnects about
    once a second, longer than these tests let a request wait for a connection)."""

    def check() -> bool:
        try:
            return condition()
        except StoreUnavailable:
            return False

    return check


def wait_for_store(store: Store) -> None:
    wait_until(answers(lambda: store.max_post_id() >= 0))


def worker_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == worker_base.__name__]


def keyed_post(api: Api, user: User, key: str) -> int:
    """Status code of a post of "keyed" under an Idempotency-Key."""
    headers = {**user.auth, "Idempotency-Key": key}
    response = api.client.post("/api/v1/statuses", data={"status": "keyed"}, headers=headers)
    status: int = response.status_code
    return status


def test_a_lost_server_is_store_unavailable_and_a_bad_statement_is_not(
    store: PostgresStore, own_postgres: LocalPostgres
) -> None:
    sql, _ = store.outbox()
    with pytest.raises(psycopg.errors.SyntaxError):
        sql.one("SELEC 1")
    own_postgres.stop("immediate")
    with pytest.raises(StoreUnavailable):
        store.max_post_id()
    with pytest.raises(StoreUnavailable):
        add_accounts(store, 1)
    own_postgres.start()
    wait_for_store(store)
    add_accounts(store, 1)
    assert list(store.get_accounts([1])) == [1]


def test_connections_that_sat_through_a_restart_fail_no_statement(
    store: PostgresStore, own_postgres: LocalPostgres
) -> None:
    for _ in range(4):
        store.max_post_id()  # the four pooled connections have served
    own_postgres.stop("immediate")
    own_postgres.start()  # nothing asked the store meanwhile: each connection is stale
    for _ in range(8):
        assert store.max_post_id() == 0
    add_accounts(store, 1)


def test_a_crashed_server_answers_503_then_the_same_app_recovers(
    own_postgres: LocalPostgres, api_factory: ApiFactory
) -> None:
    api = api_factory(store_url=own_postgres.url)
    store = api.runtime.store
    me, other = api.register("me"), api.register("other")
    acknowledged = [int(api.post(me, f"before {i}")["id"]) for i in range(3)]

    send = prepare(api, me, other, "down")
    own_postgres.stop("immediate")
    assert_all_unavailable(send())

    own_postgres.start()
    wait_for_store(store)  # the same app: its pool reconnects by itself
    send = prepare(api, me, other, "back")
    back = send()
    assert codes(back) == dict.fromkeys(back, 200)
    acknowledged.append(int(api.post(me, "after")["id"]))
    assert set(store.get_posts(acknowledged)) == set(acknowledged)

    assert keyed_post(api, me, "down") == 200  # refused during the outage, retried now
    assert keyed_post(api, me, "down") == 200
    keyed = [p for p in store.account_posts(int(me.id), limit=40) if p.text == "keyed"]
    assert len(keyed) == 2  # one per key: "down" and "back"


def test_a_post_whose_answer_the_crash_lost_is_posted_once_when_retried(
    own_postgres: LocalPostgres, api_factory: ApiFactory
) -> None:
    api = api_factory(store_url=own_postgres.url)
    store = api.runtime.store
    me = api.register("me")
    crashed: list[bool] = []

    def crash_once() -> None:
        if not crashed:
            crashed.append(True)
            own_postgres.stop("immediate")

    store.add_commit_listener(crash_once)  # right after the post's commit
    assert keyed_post(api, me, "lost answer") == 503
    assert crashed
    own_postgres.start()
    wait_for_store(store)
    assert keyed_post(api, me, "lost answer") == 200
    assert [p.text for p in store.account_posts(int(me.id), limit=40)] == ["keyed"]


def test_the_fanout_thread_waits_for_the_store_and_catches_up(
    own_postgres: LocalPostgres,
    make_runtime: RuntimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(worker_base, "OUTAGE_RETRY_DELAYS_S", (0.02,))
    runtime: Runtime = make_runtime(mode="none", store_url=own_postgres.url)
    viewer = runtime.actions.register("viewer", None)
    author = runtime.actions.register("author", None)
    runtime.actions.follow(viewer.id, author.id)
    runtime.home.read(viewer.id)
    posts = [
        runtime.actions.post(author.id, f"committed before the crash {i}").id for i in range(3)
    ]
    assert runtime.log.lag("fanout") > 0  # no worker has run yet

    own_postgres.stop("immediate")
    stop = threading.Event()
    fanout = threading.Thread(target=runtime.fanout.run_forever, args=(stop,))
    with caplog.at_level(logging.WARNING, logger=worker_base.__name__):
        fanout.start()
        try:
            wait_until(lambda: len(worker_records(caplog)) >= 3)  # it tried, and waits
            own_postgres.start()
            wait_until(answers(lambda: runtime.log.lag("fanout") == 0))
        finally:
            stop.set()
            fanout.join()
    assert all("waits for its backend" in r.getMessage() for r in worker_records(caplog))
    assert set(posts) <= set(runtime.cache.timelines.range(viewer.id, limit=10) or [])
    assert runtime.home.rebuilds == 1  # the kept timeline got the posts from the log
