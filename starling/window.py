"""How far back For You looks: a post older than this is no candidate, so every
in-memory index of recent posts and engagements (real graph, feature state, SimClusters
and TwHIN post vectors) keeps this window and no more."""

HOUR_MS = 3_600_000
WINDOW_MS = 48 * HOUR_MS
