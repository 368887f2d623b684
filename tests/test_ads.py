"""Promoted posts: the budgets cache role on every backend, targeting, pacing, budget
exhaustion, fixed slots, the promoted marker and explain over HTTP, the admin API's
access rules and validation, the CLI, and spend under concurrent requests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from starling.ads.admin import CampaignAdmin, Draft
from starling.ads.campaign import Campaign
from starling.ads.catalogue import Catalogue
from starling.ads.placement import PromotedSlots, positions
from starling.cache.backends import CacheBackends
from starling.cli import main
from starling.config import Settings
from starling.errors import Invalid
from starling.foryou.filters import POSTS_PER_AUTHOR
from starling.foryou.timeline import ForYouTimeline
from starling.ids import now_ms
from starling.mixer import Query
from starling.mixer.candidates import Candidates
from starling.model import Account
from starling.runtime import Runtime, open_runtime
from starling.store.base import Store
from tests.counting import Counting
from tests.fixtures_api import Api, ApiFactory
from tests.fixtures_runtime import RuntimeFactory
from tests.store_records import race

Accounts = Callable[[int], list[Account]]
HOUR_MS = 3600 * 1000
PRICE = 1000  # bid_cpm_cents used below: one impression costs 1000 millicents (1 cent)


class Clock:
    """A settable clock for pacing; starts at the real time (posts carry real times)."""

    def __init__(self) -> None:
        self.now = now_ms()

    def __call__(self) -> int:
        return self.now


@dataclass
class Ads:
    timeline: ForYouTimeline
    admin: CampaignAdmin
    clock: Clock
    runtime: Runtime

    def campaign(self, advertiser: Account, **fields: Any) -> Campaign:
        """A campaign promoting a new post of the advertiser; everyone, for a day."""
        text = fields.pop("text", "buy now")
        post = self.runtime.actions.post(advertiser.id, text)
        draft: dict[str, Any] = {
            "advertiser_id": advertiser.id,
            "post_id": post.id,
            "budget_cents": 1000,
            "bid_cpm_cents": PRICE,
            "starts_at": self.clock.now - 23 * HOUR_MS,  # the pacing line is near the budget
            "ends_at": self.clock.now + HOUR_MS,
            **fields,
        }
        return self.admin.create(Draft(**draft))

    def page(self, viewer: Account) -> Candidates:
        return self.timeline.serve(viewer.id).page


def ads_on(runtime: Runtime, store: Store | None = None, refresh_s: float = 0.0) -> Ads:
    """A For You timeline with the ads step on a settable clock, and its admin. The
    catalogue reloads on every request by default: each sees the admin's changes."""
    clock, store = Clock(), store or runtime.store
    catalogue = Catalogue(store, clock, refresh_s)
    slotted = PromotedSlots(store, runtime.cache, catalogue, clock=clock)
    timeline = ForYouTimeline(
        store,
        runtime.cache,
        runtime.activity,
        runtime.home.ensure_timeline,
        budget_scale=runtime.settings.foryou_budget_scale,  # roomy: counted, not timed
        ads=slotted,
    )
    admin = CampaignAdmin(runtime.store, runtime.ids, catalogue, clock)
    return Ads(timeline, admin, clock, runtime)


@pytest.fixture
def ads(runtime: Runtime) -> Iterator[Ads]:
    made = ads_on(runtime)
    yield made
    made.timeline.runner.close()


def with_organic(runtime: Runtime, accounts: Accounts, viewers: int, posts: int) -> list[Account]:
    """Viewers following friends who posted `posts` times in all: their organic page
    (three posts per friend, as many as author diversity lets through)."""
    found = accounts(viewers)
    friends = accounts(-(-posts // POSTS_PER_AUTHOR))
    for i in range(posts):
        runtime.actions.post(friends[i // POSTS_PER_AUTHOR].id, f"organic {i}")
    for viewer in found:
        for friend in friends:
            runtime.actions.follow(viewer.id, friend.id)
    return found


def promoted(page: Candidates) -> dict[int, int]:
    """Row position -> campaign id of the promoted rows."""
    return {int(r): int(page.campaign_id[r]) for r in np.flatnonzero(page.campaign_id)}


# The budgets cache role, on every backend


def test_budgets_charge_within_the_limit_only(cache_backends: CacheBackends) -> None:
    budgets = cache_backends.budgets
    budgets.seed({1: 0, 2: 0})
    assert budgets.charge([(1, 400, 1000), (2, 1, 1)]) == [True, True]
    assert budgets.charge([(1, 600, 1000), (1, 1, 1000), (2, 1, 1)]) == [True, False, False]
    assert budgets.spent([1, 2, 3]) == {1: 1000, 2: 1}
    assert budgets.charge([]) == [] and budgets.spent([]) == {}


def test_budgets_charge_only_seeded_keys_and_seed_each_once(cache_backends: CacheBackends) -> None:
    budgets = cache_backends.budgets
    assert budgets.charge([(1, 10, 1000)]) == [None]  # no total: nothing charged
    assert budgets.spent([1]) == {}
    budgets.seed({1: 500, 2: 0})
    assert budgets.charge([(1, 10, 1000), (2, 1, 1)]) == [True, True]
    budgets.seed({1: 500, 2: 0, 3: 7})  # seeding again keeps the totals held
    budgets.seed({})
    assert budgets.spent([1, 2, 3]) == {1: 510, 2: 1, 3: 7}


def test_concurrent_charges_never_pass_the_limit(cache_backends: CacheBackends) -> None:
    budgets = cache_backends.budgets
    budgets.seed({7: 0})
    done = race(lambda i: sum(bool(budgets.charge([(7, 3, 100)])[0]) for _ in range(10)), n=16)
    assert sum(done) == 33  # 33 x 3 = 99; a 34th would be 102
    assert budgets.spent([7]) == {7: 99}


# Placement


def test_slots_are_taken_while_the_page_reaches_them() -> None:
    assert positions((3, 15, 27), organic=35, ads=3, limit=35) == [2, 14, 26]
    assert positions((3, 15, 27), organic=35, ads=1, limit=35) == [2]
    assert positions((3, 15, 27), organic=2, ads=3, limit=35) == [2]  # an ad may end a page
    assert positions((3, 15, 27), organic=13, ads=3, limit=35) == [2, 14]
    assert positions((3, 15, 27), organic=35, ads=3, limit=20) == [2, 14]
    assert positions((3,), organic=0, ads=1, limit=35) == []  # never a page of ads alone


def test_ads_take_fixed_slots_and_the_page_keeps_its_limit(
    runtime: Runtime, accounts: Accounts, ads: Ads
) -> None:
    (viewer,) = with_organic(runtime, accounts, 1, 40)
    brands = accounts(4)
    cheap = ads.campaign(brands[0], bid_cpm_cents=PRICE)
    best = [ads.campaign(b, bid_cpm_cents=PRICE * (i + 2)) for i, b in enumerate(brands[1:])]
    page = ads.page(viewer)
    assert len(page) == 35
    # The best three bids, best first, at positions 3, 15 and 27; the cheapest waits.
    assert promoted(page) == {2: best[2].id, 14: best[1].id, 26: best[0].id}
    assert cheap.id not in page.campaign_id
    assert ads.runtime.cache.budgets.spent([c.id for c in best]) == {
        c.id: c.price for c in best
    }  # each charged once
    # Served ads are not served to the viewer again; the cheapest now gets its slot.
    assert promoted(ads.page(viewer)) == {2: cheap.id}


def test_an_organic_copy_of_a_promoted_post_makes_way(
    runtime: Runtime, accounts: Accounts, ads: Ads
) -> None:
    (viewer,) = with_organic(runtime, accounts, 1, 5)
    (brand,) = accounts(1)
    runtime.actions.follow(viewer.id, brand.id)
    campaign = ads.campaign(brand)
    page = ads.page(viewer)
    assert list(page.post_id).count(campaign.post_id) == 1
    assert promoted(page) == {2: campaign.id}
    assert len(page) == 6  # five organic posts and the promoted one


# Targeting


def test_targeting_by_region_and_by_the_viewers_recent_hashtags(
    runtime: Runtime, accounts: Accounts, ads: Ads
) -> None:
    fan, other = with_organic(runtime, accounts, 2, 5)
    (brand,) = accounts(1)
    runtime.actions.post(fan.id, "loving the #Cats today")
    catty = ads.campaign(brand, interests=["#cats", "dogs"])
    assert promoted(ads.page(other)) == {}
    assert promoted(ads.page(fan)) == {2: catty.id}
    why = ads.timeline.explain(fan.id, catty.post_id)
    assert why is not None and why["targeting"]["matched_interests"] == ["cats"]

    (brand2,) = accounts(1)
    lister = runtime.actions.register("lister", None, region="jp")
    runtime.actions.follow(lister.id, brand.id)  # an organic page: the brand's post
    for i in range(3):
        runtime.actions.post(brand.id, f"more {i}")
    japan = ads.campaign(brand2, regions=["JP"])
    assert promoted(ads.page(other)) == {}
    assert promoted(ads.page(lister)) == {2: japan.id}


def test_own_and_hidden_advertisers_are_not_shown(
    runtime: Runtime, accounts: Accounts, ads: Ads
) -> None:
    viewer, blocker, muter = with_organic(runtime, accounts, 3, 20)  # two slots fit
    blocked, muted = accounts(2)
    mine = ads.campaign(viewer, bid_cpm_cents=4 * PRICE)
    blocked_ad = ads.campaign(blocked, bid_cpm_cents=3 * PRICE)
    muted_ad = ads.campaign(muted, bid_cpm_cents=2 * PRICE)
    runtime.actions.block(blocker.id, blocked.id)
    runtime.actions.mute(muter.id, muted.id)
    assert promoted(ads.page(viewer)) == {2: blocked_ad.id, 14: muted_ad.id}
    assert promoted(ads.page(blocker)) == {2: mine.id, 14: muted_ad.id}
    assert promoted(ads.page(muter)) == {2: mine.id, 14: blocked_ad.id}


# Pacing and budget


def test_pacing_spreads_the_budget_over_the_flight(
    runtime: Runtime, accounts: Accounts, ads: Ads
) -> None:
    viewers = with_organic(runtime, accounts, 12, 3)
    (brand,) = accounts(1)
    # 10 cents = 10 impressions over 10 hours; an hour in, the line is at one impression.
    start = ads.clock.now - HOUR_MS
    campaign = ads.campaign(brand, budget_cents=10, starts_at=start, ends_at=start + 10 * HOUR_MS)
    served = [bool(promoted(ads.page(v))) for v in viewers[:4]]
    # Spent 0 <= line 1000: served; spent 1000 <= 1000: served; then ahead of the line.
    assert served == [True, True, False, False]
    ads.clock.now += 2 * HOUR_MS  # the line moves to 3000: spent 2000 and 3000 are served
    assert [bool(promoted(ads.page(v))) for v in viewers[4:7]] == [True, True, False]
    assert runtime.cache.budgets.spent([campaign.id]) == {campaign.id: 4 * PRICE}


def test_a_campaign_stops_when_its_budget_is_spent(
    runtime: Runtime, accounts: Accounts, ads: Ads
) -> None:
    viewers = with_organic(runtime, accounts, 8, 3)
    (brand,) = accounts(1)
    campaign = ads.campaign(brand, budget_cents=5)  # five impressions
    impressions = sum(len(promoted(ads.page(v))) for v in viewers)
    assert impressions == 5
    assert runtime.cache.budgets.spent([campaign.id]) == {campaign.id: 5 * PRICE}


def test_concurrent_pages_never_overspend(runtime: Runtime, accounts: Accounts, ads: Ads) -> None:
    viewers = with_organic(runtime, accounts, 24, 3)
    (brand,) = accounts(1)
    campaign = ads.campaign(brand, budget_cents=5)
    pages = race(lambda i: ads.page(viewers[i]), n=len(viewers))
    assert sum(len(promoted(page)) for page in pages) == 5
    assert runtime.cache.budgets.spent([campaign.id]) == {campaign.id: 5 * PRICE}


def test_paused_campaigns_are_not_served_until_resumed(
    runtime: Runtime, accounts: Accounts, ads: Ads
) -> None:
    first, second = with_organic(runtime, accounts, 2, 3)
    (brand,) = accounts(1)
    campaign = ads.campaign(brand)
    ads.admin.pause(campaign.id)
    assert promoted(ads.page(first)) == {}
    ads.admin.resume(campaign.id)
    assert promoted(ads.page(second)) == {2: campaign.id}
    ads.clock.now += 2 * HOUR_MS  # past its end
    with pytest.raises(Invalid, match="ended"):
        ads.admin.resume(campaign.id)


# Cost per request, counted


def mixed_alone(made: Ads, viewer: Account, counting: Counting) -> Candidates:
    """The ads step over an organic page, with the store calls of that step alone."""
    slotted = made.timeline.ads
    assert slotted is not None
    organic = made.timeline.runner.run(Query(viewer.id))
    counting.reset()
    return slotted.place(organic.query, organic.candidates)


def test_the_ads_step_costs_no_store_call_without_campaigns(
    runtime: Runtime, accounts: Accounts
) -> None:
    (viewer,) = with_organic(runtime, accounts, 1, 3)
    counting = Counting(runtime.store)
    made = ads_on(runtime, counting, refresh_s=60.0)
    mixed_alone(made, viewer, counting)
    assert counting.calls == {"campaigns": 1}  # the catalogue's load, once per refresh_s
    mixed_alone(made, viewer, counting)
    assert counting.calls == {}


def test_store_calls_per_page_with_targeted_campaigns(runtime: Runtime, accounts: Accounts) -> None:
    viewers = with_organic(runtime, accounts, 2, 3)
    brands = accounts(3)
    counting = Counting(runtime.store)
    made = ads_on(runtime, counting, refresh_s=60.0)
    made.campaign(brands[0], regions=["us"])
    made.campaign(brands[1], interests=["cats"])
    made.campaign(brands[2])
    mixed_alone(made, viewers[0], counting)  # loads the catalogue
    # The cache held no total for the targeted campaign yet: seeded from one store read.
    assert counting.calls["campaigns"] == counting.calls["campaign_spend"] == 1
    page = mixed_alone(made, viewers[1], counting)
    assert promoted(page)
    # Region, interests, the promoted posts, hidden authors: one call each, whatever
    # the number of campaigns; and one transaction recording the page's spend.
    assert counting.calls == {
        "get_accounts": 1,
        "recent_hashtags": 1,
        "get_posts": 1,
        "hidden_authors": 1,
        "transaction": 1,
    }


# The admin API, the promoted marker and explain over HTTP

ADMIN_SCOPES = "read admin:read admin:write"
CAMPAIGNS = "/api/v1/admin/ads/campaigns"


def scoped(api: Api, username: str, scopes: str) -> dict[str, str]:
    """A bearer header for an existing account with exactly these scopes."""
    runtime = api.runtime
    account = runtime.store.get_account_by_username(username)
    assert account is not None
    app = runtime.actions.create_app("admin tests", "", scopes, None)
    return {"Authorization": f"Bearer {runtime.actions.issue_token(app.id, account.id, scopes)}"}


def body(advertiser: str, post: str, **fields: Any) -> dict[str, Any]:
    return {
        "advertiser_id": advertiser,
        "post_id": post,
        "budget_cents": 100,
        "bid_cpm_cents": 500,
        "ends_at": "2099-01-01T00:00:00Z",
        **fields,
    }


def test_promoted_entries_are_marked_and_explained_over_http(api_factory: ApiFactory) -> None:
    api = api_factory(admins="boss")
    _, brand, viewer, friend = (api.register(n) for n in ("boss", "brand", "viewer", "friend"))
    api.follow(viewer, friend)
    for i in range(3):
        api.post(friend, f"news {i}")
    ad = api.post(brand, "the best #shoes")
    admin = scoped(api, "boss", ADMIN_SCOPES)
    created = api.client.post(CAMPAIGNS, json=body(brand.id, ad["id"]), headers=admin)
    assert created.status_code == 200, created.text
    campaign = created.json()
    assert campaign["status"] == "active" and campaign["spent_cents"] == 0

    page = api.client.get("/api/v1/timelines/for_you", headers=viewer.auth).json()
    assert [e["id"] == ad["id"] for e in page] == [False, False, True, False]
    marker = {"campaign_id": campaign["id"], "advertiser_id": brand.id}
    assert page[2]["promoted"] == marker
    assert all("promoted" not in e for e in page[:2] + page[3:])

    why = api.client.get(f"/api/v1/timelines/for_you/explain/{ad['id']}", headers=viewer.auth)
    assert why.status_code == 200
    assert why.json()["source"] == "promoted-slots" and why.json()["promoted"] == marker
    assert why.json()["targeting"]["everyone"] is True

    listed = api.client.get(CAMPAIGNS, headers=admin).json()
    assert [(c["id"], c["impressions"], c["spent_cents"]) for c in listed] == [
        (campaign["id"], 1, 0.5)
    ]
    paused = api.client.post(f"{CAMPAIGNS}/{campaign['id']}/pause", headers=admin)
    assert paused.json()["status"] == "paused"
    resumed = api.client.post(f"{CAMPAIGNS}/{campaign['id']}/resume", headers=admin)
    assert resumed.json()["status"] == "active"
    assert api.client.post(f"{CAMPAIGNS}/7/pause", headers=admin).status_code == 404


def test_only_admins_with_an_admin_scope_may_use_the_admin_api(api_factory: ApiFactory) -> None:
    api = api_factory(admins="boss, other")
    boss, brand = api.register("boss"), api.register("brand")
    ad = api.post(brand, "buy")
    json_body = body(brand.id, ad["id"])
    assert api.client.get(CAMPAIGNS).status_code == 401
    assert api.client.post(CAMPAIGNS, json=json_body).status_code == 401
    # A non-admin, even with admin scopes; an admin without them.
    for headers in (scoped(api, "brand", ADMIN_SCOPES), boss.auth):
        assert api.client.get(CAMPAIGNS, headers=headers).status_code == 403
        assert api.client.post(CAMPAIGNS, json=json_body, headers=headers).status_code == 403
    reader = scoped(api, "boss", "admin:read")
    assert api.client.get(CAMPAIGNS, headers=reader).status_code == 200
    assert api.client.post(CAMPAIGNS, json=json_body, headers=reader).status_code == 403
    assert api.runtime.store.campaigns() == []


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"budget_cents": 0}, "budget_cents"),
        ({"budget_cents": 1, "bid_cpm_cents": 1001}, "one impression"),
        (
            {"starts_at": "2000-01-01T00:00:00Z", "ends_at": "2001-01-01T00:00:00Z"},
            "ends_at: must be in the future",
        ),
        ({"starts_at": "2099-02-01T00:00:00Z"}, "ends_at: must be after starts_at"),
        ({"ends_at": "2099-01-01T00:00:00"}, "time zone"),
        ({"regions": ["not a region"]}, "regions"),
        ({"interests": ["#ok", "no spaces"]}, "interests"),
        ({"post_id": "1"}, "no such live post"),
        ({"advertiser_id": "1"}, "no such account"),
        ({"budget_cents": "lots"}, "budget_cents"),
    ],
)
def test_invalid_campaigns_are_refused_whole(
    api_factory: ApiFactory, fields: dict[str, Any], problem: str
) -> None:
    api = api_factory(admins="boss")
    api.register("boss")
    brand = api.register("brand")
    ad = api.post(brand, "buy")
    admin = scoped(api, "boss", ADMIN_SCOPES)
    response = api.client.post(CAMPAIGNS, json=body(brand.id, ad["id"], **fields), headers=admin)
    assert response.status_code == 422
    assert problem in response.json()["error"]
    assert api.runtime.store.campaigns() == []


def test_only_the_advertisers_own_public_original_may_be_promoted(api_factory: ApiFactory) -> None:
    api = api_factory(admins="boss")
    api.register("boss")
    brand, other = api.register("brand"), api.register("other")
    admin = scoped(api, "boss", ADMIN_SCOPES)
    theirs = api.post(other, "not yours")
    private = api.post(brand, "followers only", visibility="private")
    repost = api.client.post(f"/api/v1/statuses/{theirs['id']}/reblog", headers=brand.auth)
    for post_id, problem in (
        (theirs["id"], "not a post of the advertiser"),
        (private["id"], "only an original public post"),
        (repost.json()["id"], "only an original public post"),
    ):
        response = api.client.post(CAMPAIGNS, json=body(brand.id, post_id), headers=admin)
        assert response.status_code == 422 and problem in response.json()["error"]
    assert api.runtime.store.campaigns() == []


# The CLI and the Redis backend


def test_admin_ads_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path)]
    runtime = open_runtime(Settings(data_dir=tmp_path), workers="none")
    try:
        brand = runtime.actions.register("brand", None)
        post = runtime.actions.post(brand.id, "buy")
    finally:
        runtime.close()
    create = ["admin", "ads", "create", "--advertiser", "brand", "--post", str(post.id)]
    money = ["--budget-cents", "100", "--bid-cpm-cents", "200", "--days", "7"]
    assert main([*create, *money, "--interests", "#Shoes,hats", *data]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["interests"] == ["shoes", "hats"] and created["status"] == "active"
    assert main(["admin", "ads", "pause", created["id"], *data]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "paused"
    assert main(["admin", "ads", "resume", created["id"], *data]) == 0
    assert main(["admin", "ads", "list", *data]) == 0
    capsys.readouterr()
    assert main([*create, "--budget-cents", "0", "--bid-cpm-cents", "1", "--days", "1", *data]) == 1
    assert "budget_cents" in capsys.readouterr().err
    assert main(["admin", "ads", "list", *data]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["id"], c["status"]) for c in listed] == [(created["id"], "active")]


@pytest.mark.redis
def test_ads_spend_on_redis(make_runtime: RuntimeFactory, redis_url: str) -> None:
    runtime = make_runtime(redis_url=redis_url, redis_prefix=f"ads{now_ms()}:")
    made = ads_on(runtime)
    try:
        viewers, friends = runtime_accounts(runtime, 6), runtime_accounts(runtime, 1, "friend")
        for i in range(3):
            runtime.actions.post(friends[0].id, f"organic {i}")
        for viewer in viewers:
            runtime.actions.follow(viewer.id, friends[0].id)
        (brand,) = runtime_accounts(runtime, 1, "brand")
        campaign = made.campaign(brand, budget_cents=4)
        pages = race(lambda i: made.page(viewers[i]), n=len(viewers))
        assert sum(len(promoted(page)) for page in pages) == 4
        assert runtime.cache.budgets.spent([campaign.id]) == {campaign.id: 4 * PRICE}
    finally:
        made.timeline.runner.close()


def runtime_accounts(runtime: Runtime, n: int, prefix: str = "user") -> list[Account]:
    return [runtime.actions.register(f"{prefix}{i}", None) for i in range(n)]
