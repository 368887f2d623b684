"""For You ranking: the feature store fed by the log, feature hydration, simulated
impressions, the light ranker (logistic regression), the heavy ranker (`heavy/`) and the
low-quality filter. See docs/subsystems/ranking.md.
"""
