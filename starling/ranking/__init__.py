"""Ranking of the For You timeline's candidates: the light and heavy rankers and the
features they read. See docs/subsystems/foryou.md."""
