"""Promoted posts: campaigns in the store of record, their spend in the cache, the ads
candidate pipeline of the For You timeline and the slots it fills. See docs/subsystems/ads.md.

Kept free of imports: the store reads `starling.ads.campaign`, which must not pull the
pipeline (and through it the store) in.
"""
