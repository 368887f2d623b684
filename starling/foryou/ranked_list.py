"""A viewer's ranked list as the cache keeps it: every candidate that passed the filters,
scored, with the tier that ranked it, as one string (base64 of an npz of the columns;
records are not kept, a page re-reads its own posts). Precomputed lists and the rest of
a list after its first page are both kept this way. See docs/subsystems/foryou.md.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np

from starling.mixer.candidates import FEATURES, Candidates

_COLUMNS = ("post_id", "source_id", "author_id", "created_at", "pipeline", "score", "features")


@dataclass(frozen=True)
class RankedList:
    tier: str  # the ranking rung that scored it
    candidates: Candidates  # filtered and scored; no records
    ranked_at: int  # ms


def encode(tier: str, candidates: Candidates) -> str:
    proofs = candidates.social_proof.tolist()
    arrays = {c: getattr(candidates, c) for c in _COLUMNS}
    arrays["proof_lengths"] = np.array([len(p) for p in proofs], dtype=np.int64)
    arrays["proofs"] = np.array([a for p in proofs for a in p], dtype=np.int64)
    arrays["tier"] = np.array(tier)
    arrays["feature_names"] = np.array(FEATURES)
    out = io.BytesIO()
    np.savez(out, allow_pickle=False, **arrays)
    return base64.b64encode(out.getvalue()).decode("ascii")


def decode(stored: str, ranked_at: int) -> RankedList | None:
    """The list; None for one written with other feature columns (an older release)."""
    with np.load(io.BytesIO(base64.b64decode(stored)), allow_pickle=False) as found:
        if tuple(found["feature_names"].tolist()) != FEATURES:
            return None
        batch = Candidates.of(found["post_id"]).with_columns(
            **{c: found[c] for c in _COLUMNS if c != "post_id"}
        )
        ends = np.cumsum(found["proof_lengths"])
        proofs = np.split(found["proofs"], ends[:-1]) if len(ends) else []
        batch = batch.with_social_proof([tuple(p.tolist()) for p in proofs])
        return RankedList(str(found["tier"]), batch, ranked_at)
