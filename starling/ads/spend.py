"""Campaign spend: charged in the budgets cache role, kept in the store of record.

The cache decides: its check-and-charge keeps concurrent pages of every process within a
budget. The store keeps: a page that placed ads adds their price to their campaigns'
spend in one transaction (one statement) before it is served. The cache's totals are
derived from the store's: a campaign the cache holds no total for (never seen by this
cache, or lost with a restart) is seeded from the store before it is judged or charged,
so a restart never lets a campaign spend again what it had spent. See
docs/subsystems/ads.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from starling.ads.campaign import Campaign
from starling.cache.base import Budgets
from starling.store.base import Store


class Spend:
    def __init__(self, store: Store, budgets: Budgets) -> None:
        self.store = store
        self.budgets = budgets

    def spent(self, campaign_ids: Sequence[int]) -> dict[int, int]:
        """Each campaign's total (millicents): one cache round trip; one store read and
        one cache write more when the cache lacks some."""
        found = self.budgets.spent(campaign_ids)
        missing = [int(c) for c in campaign_ids if int(c) not in found]
        if missing:
            found |= self._seed(missing)
        return found

    def charge(self, campaigns: Sequence[Campaign]) -> list[bool]:
        """Charges one impression of each campaign (distinct) and records those charged in
        the store; whether each was charged, in order. Raises StoreUnavailable when the
        store could not record them: then none may be shown (their charges stay in the
        cache: the campaigns under-spend by them rather than over)."""
        charges = [(c.id, c.price, c.budget) for c in campaigns]
        done = self.budgets.charge(charges)
        unknown = [i for i, ok in enumerate(done) if ok is None]
        if unknown:  # lost since they were judged (a cache restart): seed, charge again
            self._seed([campaigns[i].id for i in unknown])
            again = self.budgets.charge([charges[i] for i in unknown])
            for i, ok in zip(unknown, again, strict=True):
                done[i] = ok
        charged = [ok is True for ok in done]
        amounts = [(c.id, c.price) for c, ok in zip(campaigns, charged, strict=True) if ok]
        if amounts:
            with self.store.transaction() as tx:
                tx.add_campaign_spend(amounts)
        return charged

    def _seed(self, campaign_ids: Sequence[int]) -> dict[int, int]:
        """Seeds these campaigns' cache totals with the store's spend; returns that spend.
        A total another request seeded or charged meanwhile is kept (seeding sets only
        missing totals), so nothing is counted twice."""
        stored = self.store.campaign_spend(campaign_ids)
        totals = {c: stored.get(c, 0) for c in campaign_ids}
        self.budgets.seed(totals)
        return totals
