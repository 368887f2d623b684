"""For You's real-graph candidate pipeline: posts engaged by the accounts the viewer
follows or engages with (GraphJet's role), each with the engagers as social proof.
See docs/subsystems/foryou.md and docs/subsystems/realgraph.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from starling.foryou.sources import OutOfNetworkSource, Proposal
from starling.realgraph import RealGraph
from starling.realgraph.candidates import candidates
from starling.store.base import IdArray


class RealGraphIndex:
    """The in-process real graph, asked as an out-of-network index."""

    def __init__(self, graph: RealGraph) -> None:
        self.graph = graph

    def candidates(self, viewer_id: int, following: IdArray, limit: int) -> Sequence[Proposal]:
        found = candidates(self.graph, viewer_id, following, limit)
        proofs = (tuple(p for p in row if p) for row in found.proof_ids.tolist())
        return list(zip(found.post_ids.tolist(), proofs, strict=True))


class RealGraphSource(OutOfNetworkSource):
    id = "real-graph"
