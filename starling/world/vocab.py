"""Topical vocabularies: each community has its own words and hashtags.

A few real words per theme keep posts readable; the rest are pronounceable words made
from syllables, unique across communities, so a word points at the community it came
from. See docs/subsystems/world.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

THEMES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("football", ("goal", "striker", "derby", "keeper", "penalty", "league", "transfer")),
    ("cooking", ("recipe", "simmer", "garlic", "skillet", "braise", "umami", "pantry")),
    ("astronomy", ("nebula", "telescope", "eclipse", "comet", "orbit", "galaxy", "aurora")),
    ("jazz", ("saxophone", "bebop", "trio", "improv", "swing", "vinyl", "standards")),
    ("gaming", ("speedrun", "boss", "patch", "loot", "controller", "respawn", "indie")),
    ("gardening", ("compost", "seedling", "tomato", "mulch", "pruning", "bulbs", "soil")),
    ("cycling", ("peloton", "climb", "gravel", "cadence", "saddle", "sprint", "tyres")),
    ("photography", ("aperture", "lens", "portrait", "exposure", "film", "bokeh", "tripod")),
    ("startups", ("founder", "seed", "pitch", "runway", "launch", "growth", "product")),
    ("climate", ("emissions", "solar", "heatwave", "carbon", "glacier", "grid", "policy")),
    ("cinema", ("director", "premiere", "screenplay", "festival", "sequel", "cast", "reel")),
    ("poetry", ("stanza", "sonnet", "verse", "haiku", "metaphor", "rhyme", "chapbook")),
    ("chess", ("gambit", "endgame", "rook", "opening", "blitz", "checkmate", "sacrifice")),
    ("hiking", ("trail", "summit", "ridge", "backpack", "switchback", "cairn", "trailhead")),
    ("coffee", ("espresso", "roast", "pourover", "crema", "barista", "grinder", "beans")),
    ("robotics", ("actuator", "servo", "lidar", "gripper", "firmware", "sensor", "rover")),
    ("fashion", ("runway", "couture", "denim", "tailoring", "lookbook", "fabric", "thrift")),
    ("birding", ("warbler", "binoculars", "migration", "heron", "plumage", "lifer", "owl")),
    ("baking", ("sourdough", "crumb", "starter", "proof", "croissant", "butter", "oven")),
    ("sailing", ("regatta", "jib", "tack", "mooring", "keel", "harbour", "spinnaker")),
)

FILLER: tuple[str, ...] = (
    "the", "a", "this", "that", "is", "so", "really", "today", "just", "my", "new",
    "love", "think", "about", "with", "and", "more", "again", "finally", "best", "great",
    "anyone", "else", "tried", "another", "what", "a", "week", "for", "our", "big", "news",
)  # fmt: skip

SPAM_PREFIXES: tuple[str, ...] = ("win", "free", "moon", "promo", "giveaway", "deal")

_ONSETS = (
    "b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "k", "l", "m", "n", "p", "pl", "r", "s",
    "sh", "st", "t", "tr", "v", "w", "z",
)  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "ou", "io")
_CODAS = ("", "", "", "n", "r", "l", "s", "th", "m")

WORDS_PER_COMMUNITY = 40
MAX_WORD_LEN = 10
TAGS_PER_COMMUNITY = 6


@dataclass(frozen=True)
class Vocabulary:
    words: list[list[str]]  # per community
    hashtags: list[list[str]]  # per community, without '#'
    campaign_tags: list[list[str]]  # per spam campaign, without '#'


def pseudo_words(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    """`count` new pronounceable words of 2-3 syllables, none of them in `taken` (updated)."""
    words: list[str] = []
    while len(words) < count:
        syllables = 2 if rng.random() < 0.7 else 3
        parts = [
            _ONSETS[rng.integers(len(_ONSETS))]
            + _VOWELS[rng.integers(len(_VOWELS))]
            + _CODAS[rng.integers(len(_CODAS))]
            for _ in range(syllables)
        ]
        word = "".join(parts)
        if word not in taken and len(word) <= MAX_WORD_LEN:
            taken.add(word)
            words.append(word)
    return words


def build_vocabulary(rng: np.random.Generator, communities: int, campaigns: int) -> Vocabulary:
    taken = {word for _, theme_words in THEMES for word in theme_words}
    taken |= {name for name, _ in THEMES} | set(FILLER)
    words: list[list[str]] = []
    hashtags: list[list[str]] = []
    for c in range(communities):
        name, theme_words = THEMES[c % len(THEMES)]
        own = pseudo_words(rng, WORDS_PER_COMMUNITY, taken)
        # Themes repeat only past 20 communities; then the pseudo-words alone tell them apart.
        real = list(theme_words) if c < len(THEMES) else []
        words.append(real + own)
        tags = [name] if c < len(THEMES) else []
        tags += [own[i] for i in range(TAGS_PER_COMMUNITY - len(tags))]
        hashtags.append(tags)
    campaign_tags = [
        [SPAM_PREFIXES[k % len(SPAM_PREFIXES)] + word for word in pseudo_words(rng, 2, taken)]
        for k in range(campaigns)
    ]
    return Vocabulary(words=words, hashtags=hashtags, campaign_tags=campaign_tags)
