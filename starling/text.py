"""Post text: normalisation, length, hashtag and mention extraction, HTML rendering.
See docs/subsystems/actions.md."""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

MAX_POST_CHARS = 280

HASHTAG_RE = re.compile(r"(?<![\w#])#(\w{1,100})", re.UNICODE)
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,30})")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,30}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")  # the shape only: Starling sends no mail
# C0 controls and DEL, but tab, newline and carriage return, which posts may contain.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TextError(ValueError):
    """Post text that cannot be accepted; the message is shown to the client."""


def normalize(text: str) -> str:
    """NFC-normalise and check the 280-character limit; raises TextError."""
    normalized = unicodedata.normalize("NFC", text)
    if not normalized.strip():
        raise TextError("Validation failed: Text can't be blank")
    if CONTROL_RE.search(normalized):
        raise TextError("Validation failed: Text contains control characters")
    if len(normalized) > MAX_POST_CHARS:
        raise TextError(
            f"Validation failed: Text character limit of {MAX_POST_CHARS} exceeded "
            f"({len(normalized)})"
        )
    return normalized


def hashtags(text: str) -> list[str]:
    """Lower-cased hashtags in order of first appearance, without duplicates."""
    return list(dict.fromkeys(tag.lower() for tag in HASHTAG_RE.findall(text)))


def mentions(text: str) -> list[str]:
    """Lower-cased mentioned usernames in order of first appearance, without duplicates."""
    return list(dict.fromkeys(name.lower() for name in MENTION_RE.findall(text)))


# Posts are never edited, so a post's HTML is rendered once and then served from here.
@lru_cache(maxsize=8192)
def to_html(text: str, base_url: str) -> str:
    """Mastodon-style HTML content: escaped text in a paragraph, tags and mentions linked."""
    escaped = html.escape(text, quote=False)

    def tag(match: re.Match[str]) -> str:
        name = match.group(1)
        return (
            f'<a href="{base_url}/tags/{name.lower()}" class="mention hashtag" rel="tag">'
            f"#<span>{name}</span></a>"
        )

    def mention(match: re.Match[str]) -> str:
        name = match.group(1)
        return (
            f'<span class="h-card"><a href="{base_url}/@{name}" class="u-url mention">'
            f"@<span>{name}</span></a></span>"
        )

    linked = MENTION_RE.sub(mention, HASHTAG_RE.sub(tag, escaped))
    return "<p>" + linked.replace("\n", "<br />") + "</p>"
