"""The live campaigns as columns, reloaded from the store at most every few seconds.

Every For You request of a process reads the same snapshot: the campaigns that are active
and not over, with their money and flight as int64 columns and their targeting as two
boolean matrices (campaign x region, campaign x hashtag), so a viewer is matched against
all of them in a few vectorised operations. An admin change in this process reloads at
once; other processes see it within `refresh_s`. See docs/subsystems/ads.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from starling.ads.campaign import ACTIVE, Campaign
from starling.ids import now_ms
from starling.mixer.candidates import Ids, Mask
from starling.store.base import Store

REFRESH_S = 5.0
Clock = Callable[[], int]


def _column(campaigns: Sequence[Campaign], field: str) -> Ids:
    return np.array([getattr(c, field) for c in campaigns], dtype=np.int64)


def _memberships(
    values: Sequence[tuple[str, ...]],
) -> tuple[dict[str, int], npt.NDArray[np.bool_]]:
    """A vocabulary of every value and the campaign x value matrix of who names what."""
    vocabulary = {v: i for i, v in enumerate(sorted({v for each in values for v in each}))}
    matrix = np.zeros((len(values), len(vocabulary)), dtype=np.bool_)
    for row, each in enumerate(values):
        matrix[row, [vocabulary[v] for v in each]] = True
    return vocabulary, matrix


@dataclass(frozen=True)
class LiveCampaigns:
    """Row i of every column is `campaigns[i]`."""

    campaigns: tuple[Campaign, ...]
    id: Ids
    advertiser_id: Ids
    post_id: Ids
    price: Ids  # millicents per impression
    budget: Ids  # millicents
    starts_at: Ids
    ends_at: Ids
    region_index: dict[str, int]
    regions: npt.NDArray[np.bool_]
    interest_index: dict[str, int]
    interests: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, campaigns: Sequence[Campaign]) -> LiveCampaigns:
        region_index, regions = _memberships([c.regions for c in campaigns])
        interest_index, interests = _memberships([c.interests for c in campaigns])
        return cls(
            campaigns=tuple(campaigns),
            id=_column(campaigns, "id"),
            advertiser_id=_column(campaigns, "advertiser_id"),
            post_id=_column(campaigns, "post_id"),
            price=_column(campaigns, "price"),
            budget=_column(campaigns, "budget"),
            starts_at=_column(campaigns, "starts_at"),
            ends_at=_column(campaigns, "ends_at"),
            region_index=region_index,
            regions=regions,
            interest_index=interest_index,
            interests=interests,
        )

    def __len__(self) -> int:
        return len(self.campaigns)

    @property
    def targets_regions(self) -> bool:
        return bool(self.region_index)

    @property
    def targets_interests(self) -> bool:
        return bool(self.interest_index)

    def in_region(self, region: str) -> Mask:
        """Campaigns that reach a viewer of this region (those naming no region do)."""
        anywhere: Mask = np.logical_not(self.regions.any(axis=1))
        at = self.region_index.get(region)
        return anywhere if at is None else anywhere | self.regions[:, at]

    def interested(self, hashtags: Collection[str]) -> Mask:
        """Campaigns that reach a viewer with these interests (those naming none do)."""
        anyone: Mask = np.logical_not(self.interests.any(axis=1))
        known = [self.interest_index[h] for h in hashtags if h in self.interest_index]
        named: Mask = np.any(self.interests[:, known], axis=1)
        return anyone | named

    def paced(self, now: int) -> Ids:
        """Each campaign's even-spend line at `now`: its budget times the share of its
        flight gone by (integer millicents)."""
        gone = np.clip(now - self.starts_at, 0, self.ends_at - self.starts_at)
        # Millicents times milliseconds overflows int64 for large budgets: float is exact
        # enough for a line that only decides eligibility.
        line: Ids = (self.budget * (gone / (self.ends_at - self.starts_at))).astype(np.int64)
        return line

    def take(self, rows: npt.NDArray[np.intp]) -> list[Campaign]:
        return [self.campaigns[int(r)] for r in rows]


NO_CAMPAIGNS = LiveCampaigns.of([])


class Catalogue:
    """The process's snapshot of live campaigns; `live()` reloads a stale one (one store
    read, single-flight), `invalidate()` makes the next `live()` reload."""

    def __init__(self, store: Store, clock: Clock = now_ms, refresh_s: float = REFRESH_S) -> None:
        self.store = store
        self.clock = clock
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._live = NO_CAMPAIGNS
        self._loaded_at: float | None = None

    def live(self) -> LiveCampaigns:
        loaded = self._loaded_at
        if loaded is not None and time.monotonic() - loaded < self.refresh_s:
            return self._live
        with self._lock:
            if self._loaded_at is None or time.monotonic() - self._loaded_at >= self.refresh_s:
                found = self.store.campaigns(status=ACTIVE, ending_after=self.clock())
                self._live = LiveCampaigns.of(found)
                self._loaded_at = time.monotonic()
            return self._live

    def invalidate(self) -> None:
        self._loaded_at = None
