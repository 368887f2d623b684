"""A post's text as a fixed row of hashed token ids, and authors as hashed buckets: the
model's vocabulary is a number of buckets, never a list of words, so new words and
accounts need no retraining of a lookup table. See docs/subsystems/heavy_ranker.md#inputs.
"""

from __future__ import annotations

import re
import threading
import zlib
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from starling.model import Post

VOCAB = 1 << 15  # token buckets; 0 is padding
TEXT_LENGTH = 24  # tokens kept per post: hashtags first, then words
AUTHOR_BUCKETS = 1 << 12
PAD = 0
KEPT_ROWS = 1 << 18  # posts a TokenRows table keeps (~25 MB at 24 tokens); then afresh

WORD_RE = re.compile(r"\w+", re.UNICODE)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads sequential ids

TokenMatrix = npt.NDArray[np.int32]


# Posts are never edited: a post's tokens are computed once and then served from here.
@lru_cache(maxsize=65536)
def post_tokens(text: str, hashtags: tuple[str, ...], vocab: int, length: int) -> tuple[int, ...]:
    """Token ids of one post, at most `length`, never PAD: hashtags (as `#tag`, apart
    from the word) first, then the lower-cased words."""
    terms = [f"#{tag.lower()}" for tag in hashtags] + WORD_RE.findall(text.lower())
    return tuple(1 + zlib.crc32(term.encode()) % (vocab - 1) for term in terms[:length])


def token_matrix(
    posts: Sequence[Post | None], vocab: int = VOCAB, length: int = TEXT_LENGTH
) -> TokenMatrix:
    """One row per post, PAD after its tokens; a missing post is all PAD."""
    matrix = np.zeros((len(posts), length), dtype=np.int32)
    for row, post in enumerate(posts):
        if post is not None:
            found = post_tokens(post.text, post.hashtags, vocab, length)
            matrix[row, : len(found)] = found
    return matrix


class TokenRows:
    """Each post's row of tokens (`row_of(post)`: at most `length`, PAD after), computed
    once per post id into one table: posts are never edited, and a popular post is a
    candidate in many requests. A batch is one dict lookup per post and one take; row 0
    is a missing post's (all PAD). Past `capacity` posts, the next batch starts afresh."""

    def __init__(
        self,
        row_of: Callable[[Post], Sequence[int]],
        length: int = TEXT_LENGTH,
        capacity: int = KEPT_ROWS,
    ) -> None:
        self.row_of = row_of
        self.length = length
        self.capacity = capacity
        self._table = np.zeros((1024, length), np.int32)
        self._rows: dict[int, int] = {}
        self._lock = threading.Lock()

    def of(self, posts: Sequence[Post | None]) -> TokenMatrix:
        """One row per post, in order."""
        with self._lock:
            if len(self._rows) >= self.capacity:
                self._rows.clear()
            rows = self._rows
            at = np.fromiter(
                (0 if p is None else rows.get(p.id, -1) for p in posts), np.intp, len(posts)
            )
            missing = np.flatnonzero(at < 0)
            if missing.size:
                at[missing] = self._add([posts[i] for i in missing.tolist()])
            return self._table[at]

    def _add(self, posts: list[Post | None]) -> list[int]:
        rows = self._rows
        needed = len(rows) + len(posts) + 1
        if needed > len(self._table):
            grown = np.zeros((max(needed, 2 * len(self._table)), self.length), np.int32)
            grown[: len(self._table)] = self._table
            self._table = grown
        added = []
        for post in posts:
            assert post is not None
            row = rows.get(post.id)
            if row is None:
                row = rows[post.id] = len(rows) + 1
                found = self.row_of(post)
                self._table[row, : len(found)] = found
                self._table[row, len(found) :] = PAD
            added.append(row)
        return added


def author_buckets(author_ids: npt.NDArray[np.int64], buckets: int = AUTHOR_BUCKETS) -> TokenMatrix:
    """Each author's bucket (`buckets` a power of two): the top bits of a multiplicative
    hash, so nearby snowflake ids land far apart."""
    bits = buckets.bit_length() - 1
    if buckets != 1 << bits:
        raise ValueError(f"author buckets must be a power of two, not {buckets}")
    hashed = np.asarray(author_ids).astype(np.uint64) * GOLDEN  # wraps modulo 2**64
    return (hashed >> np.uint64(64 - bits)).astype(np.int32)
