"""The For You timeline: ranked, in-network and out-of-network candidates on the mixer's
runner, with explain. The product is `timeline.ForYouTimeline`; its sources, filters,
scoring, budgets and precompute are modules here. See docs/subsystems/foryou.md.
"""
