"""Prometheus metrics of the ads pipeline: totals and reasons, never one label value per
campaign (their number is unbounded). See docs/subsystems/ads.md.
"""

from __future__ import annotations

from prometheus_client import Counter

from starling.metrics import REGISTRY

CAMPAIGNS_JUDGED = Counter(
    "starling_ads_campaigns_judged",
    "Live campaigns judged for a For You request, by outcome: eligible, or the first"
    " eligibility rule they failed",
    ["outcome"],
    registry=REGISTRY,
)
IMPRESSIONS = Counter(
    "starling_ads_impressions",
    "Promoted entries served (each charged once)",
    registry=REGISTRY,
)
SPEND_CENTS = Counter(
    "starling_ads_spend_cents",
    "Money charged for served promoted entries, in cents",
    registry=REGISTRY,
)
FAILURES = Counter(
    "starling_ads_failures",
    "For You pages served without ads because the ads pipeline failed",
    registry=REGISTRY,
)
CHARGES_REFUSED = Counter(
    "starling_ads_charges_refused",
    "Placed promoted entries left out because their budget ran out in the meantime",
    registry=REGISTRY,
)
SPEND_UNRECORDED = Counter(
    "starling_ads_spend_unrecorded",
    "For You pages served without their ads because the store could not record their spend",
    registry=REGISTRY,
)
