"""Campaign spend kept in the store of record: it survives a restart of the runtime (the
in-process cache starts empty) and of a Redis without persistence, the cache being seeded
from the store so a campaign never spends again what it had spent; a page whose spend the
store could not record shows no ads."""

from __future__ import annotations

import time
from typing import Any

import pytest

from starling import metrics
from starling.ads.campaign import Campaign
from starling.ads.placement import PromotedSlots
from starling.ads.spend import Spend
from starling.cache.budgets import MemoryBudgets
from starling.cache.errors import CacheUnavailable
from starling.localredis import PrivateRedis
from starling.mixer import Query
from starling.model import Account
from starling.runtime import Runtime
from starling.store.base import Store, StoreUnavailable
from tests.fixtures_runtime import RuntimeFactory
from tests.test_ads import PRICE, Ads, ads_on, promoted, runtime_accounts

BUDGET = 5  # cents: five impressions at PRICE


def world(runtime: Runtime, viewers: int) -> tuple[list[Account], Account]:
    """Viewers following one friend with three posts (their organic page), and a brand."""
    found = runtime_accounts(runtime, viewers)
    (friend,) = runtime_accounts(runtime, 1, "friend")
    for i in range(3):
        runtime.actions.post(friend.id, f"organic {i}")
    for viewer in found:
        runtime.actions.follow(viewer.id, friend.id)
    (brand,) = runtime_accounts(runtime, 1, "brand")
    return found, brand


def impressions(made: Ads, viewers: list[Account]) -> int:
    return sum(len(promoted(made.page(v))) for v in viewers)


def stored_spend(runtime: Runtime, campaign: Campaign) -> int:
    return runtime.store.campaign_spend([campaign.id])[campaign.id]


def test_spend_survives_a_restart_of_the_runtime(make_runtime: RuntimeFactory) -> None:
    first = make_runtime()
    viewers, brand = world(first, 12)
    made = ads_on(first)
    campaign = made.campaign(brand, budget_cents=BUDGET)
    assert impressions(made, viewers[:3]) == 3
    assert stored_spend(first, campaign) == 3 * PRICE
    made.timeline.runner.close()
    first.close()

    again = make_runtime()  # the same data dir; the in-process cache starts empty
    made = ads_on(again)
    assert again.cache.budgets.spent([campaign.id]) == {}
    assert impressions(made, viewers[3:]) == BUDGET - 3  # not BUDGET more
    assert again.cache.budgets.spent([campaign.id]) == {campaign.id: BUDGET * PRICE}
    assert stored_spend(again, campaign) == BUDGET * PRICE
    assert made.admin.get(campaign.id).impressions == BUDGET
    made.timeline.runner.close()


def cache_answers(runtime: Runtime) -> bool:
    try:
        runtime.cache.budgets.spent([0])
    except CacheUnavailable:
        return False
    return True


@pytest.mark.redis
def test_spend_survives_a_restart_of_redis(
    make_runtime: RuntimeFactory, redis_server: PrivateRedis
) -> None:
    runtime = make_runtime(redis_url=redis_server.url)
    viewers, brand = world(runtime, 12)
    made = ads_on(runtime)
    try:
        campaign = made.campaign(brand, budget_cents=BUDGET)
        assert impressions(made, viewers[:3]) == 3
        redis_server.kill()
        redis_server.restart()  # empty: nothing was persisted
        deadline = time.monotonic() + 10
        while not cache_answers(runtime):  # the guard holds a failed cache a moment
            assert time.monotonic() < deadline, "the restarted Redis never answered"
            time.sleep(0.05)
        assert runtime.cache.budgets.spent([campaign.id]) == {}
        assert impressions(made, viewers[3:]) == BUDGET - 3
        assert runtime.cache.budgets.spent([campaign.id]) == {campaign.id: BUDGET * PRICE}
        assert stored_spend(runtime, campaign) == BUDGET * PRICE
    finally:
        made.timeline.runner.close()


def test_a_charge_of_a_campaign_the_cache_lost_is_seeded_first(runtime: Runtime) -> None:
    _, brand = world(runtime, 0)
    made = ads_on(runtime)
    made.timeline.runner.close()
    left = made.campaign(brand, budget_cents=BUDGET)
    spent = made.campaign(brand, budget_cents=2)
    with runtime.store.transaction() as tx:
        tx.add_campaign_spend([(left.id, 3 * PRICE), (spent.id, 2 * PRICE)])
    spend = Spend(runtime.store, MemoryBudgets())  # a cache that never saw either
    assert spend.charge([left, spent]) == [True, False]  # from 3 and 2 impressions, not 0
    assert spend.budgets.spent([left.id, spent.id]) == {left.id: 4 * PRICE, spent.id: 2 * PRICE}
    assert runtime.store.campaign_spend([left.id, spent.id]) == {
        left.id: 4 * PRICE,
        spent.id: 2 * PRICE,
    }
    assert spend.spent([left.id]) == {left.id: 4 * PRICE}  # seeded once: not counted again


class NoWrites:
    """The store, but every transaction fails as on a lost connection."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def transaction(self) -> Any:
        raise StoreUnavailable("down for the test")


def unrecorded() -> float:
    return metrics.REGISTRY.get_sample_value("starling_ads_spend_unrecorded_total") or 0.0


def test_a_page_whose_spend_is_not_recorded_shows_no_ads(runtime: Runtime) -> None:
    viewers, brand = world(runtime, 2)
    made = ads_on(runtime)
    campaign = made.campaign(brand, budget_cents=BUDGET)
    organic = made.timeline.runner.run(Query(viewers[0].id))
    slotted = PromotedSlots(NoWrites(runtime.store), runtime.cache, made.admin.catalogue)
    before = unrecorded()
    try:
        page = slotted.place(organic.query, organic.candidates)
    finally:
        slotted.close()
        made.timeline.runner.close()
    assert promoted(page) == {} and len(page) == len(organic.candidates)
    assert unrecorded() == before + 1
    # The charge stays in the cache: the campaign under-spends by it, never over.
    assert runtime.cache.budgets.spent([campaign.id]) == {campaign.id: PRICE}
    assert stored_spend(runtime, campaign) == 0
