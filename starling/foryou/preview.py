"""`starling foryou USERNAME`: an account's ranked For You page in the terminal, with the
tier that ranked it and, per entry, its source, score, evidence and text. A preview: it
runs the pipeline without recording the page as served. See docs/subsystems/foryou.md.
"""

from __future__ import annotations

import numpy as np

from starling.foryou.timeline import ForYouTimeline
from starling.mixer import Page, Query
from starling.mixer.candidates import FEATURES
from starling.store.base import Store

TEXT_WIDTH = 60


def preview(timeline: ForYouTimeline, store: Store, username: str, limit: int) -> str:
    """The page as a table; LookupError for an unknown account."""
    viewer = store.get_account_by_username(username)
    if viewer is None:
        raise LookupError(f"no account named {username!r}")
    mixed = timeline.mix(Query(viewer.id, Page(limit=limit)))
    page = mixed.candidates
    sources = [s.id for s in timeline.pipeline.sources]
    authors = store.get_accounts(np.unique(page.author_id).tolist())
    similarity = page.features[:, FEATURES.index("similarity")]
    lines = [
        f"For You of @{viewer.username}: {len(page)} entries, ranked by "
        f"{mixed.trace.ranking or 'chronological'}",
        f"{'#':>3}  {'source':<12} {'score':>8}  {'evidence':<14} {'author':<22} text",
    ]
    for row, post in enumerate(page.posts.tolist()):
        proof = page.social_proof[row]
        evidence = (
            f"{len(proof)} engaged"
            if proof
            else f"cos {similarity[row]:.2f}"
            if similarity[row]
            else "follows"
        )
        author = authors.get(int(page.author_id[row]))
        text = "" if post is None else " ".join(post.text.split())[:TEXT_WIDTH]
        lines.append(
            f"{row + 1:>3}  {sources[int(page.pipeline[row])]:<12} {page.score[row]:>8.3f}  "
            f"{evidence:<14} @{(author.username if author else '?'):<21} {text}"
        )
    return "\n".join(lines)
