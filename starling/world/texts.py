"""Post texts: community words and hashtags for people, repetitive spam for bots.

Token choices are drawn for all posts at once (a compact int matrix); strings are only
joined chunk by chunk while loading. Texts stay under 280 characters by construction:
at most 16 words of at most 12 letters, two hashtags and one @mention. See
docs/subsystems/world.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from starling.world.history import History
from starling.world.population import Population
from starling.world.stamps import Ints
from starling.world.vocab import FILLER, Vocabulary

MAX_WORDS = 16
MIN_WORDS = 4
FILLER_SHARE = 0.35
HASHTAG_COUNT_P = (0.3, 0.5, 0.2)  # chance of 0, 1 or 2 hashtags on a human post
SPAM_WORDS: tuple[str, ...] = (
    "click", "link", "in", "bio", "now", "limited", "offer", "join", "today", "huge", "100x",
)  # fmt: skip


@dataclass
class TextPlan:
    tokens: npt.NDArray[np.object_]  # every word, '#tag' and spam word, by token id
    words: npt.NDArray[np.int32]  # posts x MAX_WORDS token ids
    word_count: Ints
    tags: npt.NDArray[np.int32]  # posts x 2 token ids
    tag_count: Ints

    def render(self, rows: slice, mentions: list[str | None]) -> list[str]:
        """Texts of posts `rows`; a mention (username) starts a reply."""
        words = self.tokens[self.words[rows]].tolist()
        tags = self.tokens[self.tags[rows]].tolist()
        texts = []
        for w, nw, t, nt, mention in zip(
            words,
            self.word_count[rows].tolist(),
            tags,
            self.tag_count[rows].tolist(),
            mentions,
            strict=True,
        ):
            body = " ".join(w[:nw] + t[:nt])
            texts.append(body if mention is None else f"@{mention} {body}")
        return texts


class _Tokens:
    """Token ids by block: filler, each community's words and tags, campaigns, spam."""

    def __init__(self, vocab: Vocabulary) -> None:
        self.strings: list[str] = list(FILLER)
        self.word_start, self.word_len = self._block(vocab.words)
        self.tag_start, self.tag_len = self._block(
            [["#" + t for t in tags] for tags in vocab.hashtags]
        )
        self.campaign_start, _ = self._block(
            [["#" + t for t in tags] for tags in vocab.campaign_tags]
        )
        self.spam_start = len(self.strings)
        self.strings += SPAM_WORDS

    def _block(self, groups: list[list[str]]) -> tuple[Ints, Ints]:
        starts, lengths = [], []
        for group in groups:
            starts.append(len(self.strings))
            lengths.append(len(group))
            self.strings += group
        return np.array(starts, dtype=np.int64), np.array(lengths, dtype=np.int64)


@dataclass
class _Choices:
    words: Ints  # posts x MAX_WORDS token ids
    word_count: Ints
    tags: Ints  # posts x 2 token ids
    tag_count: Ints


def plan_texts(
    rng: np.random.Generator, vocab: Vocabulary, pop: Population, history: History
) -> TextPlan:
    tok = _Tokens(vocab)
    bot = pop.bot[history.author]
    # Each side is drawn for every row (vectorised), then the rows pick their side.
    human = _human_choices(rng, tok, np.where(bot, 0, history.topic))
    spam = _bot_choices(rng, tok, np.where(bot, history.topic, 0))
    return TextPlan(
        tokens=np.array(tok.strings, dtype=object),
        words=np.where(bot[:, None], spam.words, human.words).astype(np.int32),
        word_count=np.where(bot, spam.word_count, human.word_count),
        tags=np.where(bot[:, None], spam.tags, human.tags).astype(np.int32),
        tag_count=np.where(bot, spam.tag_count, human.tag_count),
    )


def _human_choices(rng: np.random.Generator, tok: _Tokens, topic: Ints) -> _Choices:
    """Topic words mixed with filler, then 0-2 of the topic's hashtags, the first most often."""
    p = topic.size
    # Squaring skews choices to the front of each list, where the real words are, and
    # gives the Zipf-like spread of real word frequencies.
    skewed = rng.random((p, MAX_WORDS)) ** 2
    topical = tok.word_start[topic, None] + (skewed * tok.word_len[topic, None]).astype(int)
    filler = rng.integers(len(FILLER), size=(p, MAX_WORDS))
    words = np.where(rng.random((p, MAX_WORDS)) < FILLER_SHARE, filler, topical)
    tag_len = tok.tag_len[topic]
    first = np.minimum(rng.exponential(1.0, size=p).astype(np.int64), tag_len - 1)
    second = (first + rng.integers(1, tag_len)) % tag_len
    return _Choices(
        words=words,
        word_count=rng.integers(MIN_WORDS, MAX_WORDS + 1, size=p),
        tags=tok.tag_start[topic, None] + np.stack([first, second], axis=1),
        tag_count=rng.choice(len(HASHTAG_COUNT_P), size=p, p=HASHTAG_COUNT_P),
    )


def _bot_choices(rng: np.random.Generator, tok: _Tokens, campaign: Ints) -> _Choices:
    """A few spam words and always both of the campaign's hashtags."""
    p = campaign.size
    return _Choices(
        words=tok.spam_start + rng.integers(len(SPAM_WORDS), size=(p, MAX_WORDS)),
        word_count=rng.integers(3, 6, size=p),
        tags=tok.campaign_start[campaign, None] + np.arange(2),
        tag_count=np.full(p, 2),
    )
