"""Post text rules: NFC length, blank and control characters, tags, mentions, HTML."""

from __future__ import annotations

import pytest

from starling import text


def test_length_is_counted_after_nfc() -> None:
    decomposed = "e\u0301" * 280  # 560 code points, 280 characters once composed
    assert text.normalize(decomposed) == "\u00e9" * 280
    with pytest.raises(text.TextError, match="280"):
        text.normalize("x" * 281)


@pytest.mark.parametrize("bad", ["", "   \n\t", "nul\x00byte", "bell\x07", "del\x7f"])
def test_blank_and_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(text.TextError):
        text.normalize(bad)


def test_tabs_and_newlines_are_kept() -> None:
    assert text.normalize("line one\n\tline two\r\n") == "line one\n\tline two\r\n"


def test_hashtags_and_mentions_in_order_without_duplicates() -> None:
    body = "#WorldCup @Alice and #worldcup again, @bob@elsewhere e#mail me@x #Qatar2022"
    assert text.hashtags(body) == ["worldcup", "qatar2022"]
    assert text.mentions(body) == ["alice", "bob"]


def test_html_is_escaped_and_linked() -> None:
    html = text.to_html("<b>hi</b> #Tag @bob\nbye", "https://example.test")
    assert html.startswith("<p>&lt;b&gt;hi&lt;/b&gt; ")
    assert 'href="https://example.test/tags/tag"' in html
    assert 'href="https://example.test/@bob"' in html
    assert html.endswith("<br />bye</p>")
