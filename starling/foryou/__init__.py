"""The For You timeline: ranked, in-network and out-of-network candidates on the mixer's
runner, with explain. See docs/subsystems/foryou.md.
"""

from starling.foryou.sources import OutOfNetworkIndex, OutOfNetworkSource
from starling.foryou.timeline import ForYouTimeline

__all__ = ["ForYouTimeline", "OutOfNetworkIndex", "OutOfNetworkSource"]
