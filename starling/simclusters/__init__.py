"""SimClusters: communities of the follow graph as an out-of-network candidate source.

A scheduled job (`train.py`, `starling train simclusters`) clusters producers by their
followers (KnownFor) and gives each consumer a sparse interest vector (InterestedIn),
saved as versioned files (`versions.py`) that `SimClustersIndex` reloads while serving.
The simclusters worker turns likes into post vectors with per-cluster top posts
(`posts.py`); `candidates.py` answers a viewer's candidates. See
docs/subsystems/simclusters.md.
"""
