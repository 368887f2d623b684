"""For You's latency budgets: the seed's per-phase table (Bottleneck 1, 1,500 ms in all)
scaled to this machine by `STARLING_FORYOU_BUDGET_SCALE` (default 0.2: the whole
request in 300 ms), and the budgets of its ranking rungs. See docs/subsystems/foryou.md.
"""

from __future__ import annotations

from starling.mixer.budgets import CANDIDATES, FILTERING, HYDRATION, MIXING, RANKING, Budgets

# A fifth of the seed's: what the pipeline meets on this 2-core machine at ~1,500
# candidates in the median, so a normal request ranks with the heavy rung and only a slow
# one degrades. The latency target (p99 50 ms) is a benchmark figure, not a budget: a
# budget the pipeline cannot meet would rank every request newest first.
DEFAULT_SCALE = 0.2

# The seed's table, in seconds. Auth (50 ms), serialization (50 ms) and the 200 ms buffer
# lie outside the pipeline; its "filtering + mixing" (100 ms) is split between the two.
SEED = Budgets(
    phases={
        CANDIDATES: 0.200,
        HYDRATION: 0.300,
        FILTERING: 0.050,
        RANKING: 0.600,  # light ranker 200 ms + heavy ranker 400 ms
        MIXING: 0.050,
    },
    sources={"in-network": 0.050, "ads": 0.100},  # out-of-network: the phase's 150-200 ms
)
# Each rung's budget: heavy is the light ranker's cut then the heavy ranker's pass.
SEED_RUNGS = {"heavy": 0.600, "light": 0.200, "heuristic": 0.100}


def budgets(scale: float = DEFAULT_SCALE) -> Budgets:
    return SEED.scaled(scale)


def rung_budget(tier: str, scale: float = DEFAULT_SCALE) -> float:
    return SEED_RUNGS[tier] * scale
