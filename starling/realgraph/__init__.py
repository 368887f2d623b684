"""The real graph (GraphJet): recent engagements as an in-memory bipartite graph of
accounts and posts, in time segments, and the out-of-network candidates and affinities
read from it. See docs/subsystems/realgraph.md.
"""

from starling.realgraph.affinity import affinity
from starling.realgraph.candidates import EngagedPosts, candidates, engaged_posts
from starling.realgraph.graph import RealGraph, Snapshot

__all__ = ["EngagedPosts", "RealGraph", "Snapshot", "affinity", "candidates", "engaged_posts"]
