"""Clean plain text as crawlers send it: drop junk lines, a repeated title, section labels.

A crawler's text keeps the page's furniture as lines of their own ("World
News", the headline twice, "FILE PHOTO: ..." captions with a photographer
credit, "Related Articles", "Leave a Reply", "Exit mobile version"). Story
sentences are never rewritten: a line is either kept whole or dropped.

The rules clean a body; they never remove an item's only content. A flash ("Earthquake
of magnitude 6.1 strikes off Japan"), a post ("rug works for me") or a text equal to its
title is shaped like a headline or a label, but when dropping such lines would leave
nothing, they are the content: then only junk lines go, and when every line is junk,
nothing goes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.cleaning.rules import caption_echo, junk_reason, word_count

__all__ = ["PlainResult", "clean_lines"]

_CAPTION_LEAD = re.compile(
    r"^\W{0,3}(?:file\s+photo|photo|image|picture|pictured|foto|bild)\b\s*:?", re.IGNORECASE
)
_TERMINAL = (".", "!", "?", "…", '"', "”", "’", "»", ")", "。", "！", "？")
# Lines before the first paragraph of this many words may be a section label or the title.
_STORY_WORDS = 15
_LABEL_MAX_WORDS = 4
_TITLE_MAX_WORDS = 30
# Character bounds too, for scripts written without spaces (few \w+ tokens per line).
_STORY_CHARS = 100
_LABEL_MAX_CHARS = 40


@dataclass
class PlainResult:
    """Kept paragraphs (lists of lines) and the title found at the top, if any."""

    paragraphs: list[list[str]]
    title: str | None


def _key(line: str) -> str:
    return " ".join(re.findall(r"\w+", line.casefold()))


def _strip_head(
    paragraphs: list[list[str]], title: str | None
) -> tuple[list[list[str]], str | None]:
    """Remove section labels and repeated titles above the first story paragraph."""
    title_key = _key(title) if title else None
    found_title = title
    out: list[list[str]] = []
    in_head = True
    for lines in paragraphs:
        if not in_head:
            out.append(lines)
            continue
        kept: list[str] = []
        for line in lines:
            words = word_count(line)
            key = _key(line)
            if not in_head:
                kept.append(line)
            elif (title_key and key == title_key) or (found_title and key == _key(found_title)):
                continue  # the headline, once or repeated
            elif (
                words >= _STORY_WORDS
                or len(line) >= _STORY_CHARS
                or line.rstrip().endswith(_TERMINAL)
            ):
                in_head = False
                kept.append(line)
            elif words <= _LABEL_MAX_WORDS and len(line) <= _LABEL_MAX_CHARS:
                continue  # a section label such as "World News" above the headline
            elif found_title is None and words <= _TITLE_MAX_WORDS:
                found_title = line
            else:
                in_head = False
                kept.append(line)
        if kept:
            out.append(kept)
    return out, found_title


def clean_lines(paragraphs: list[list[str]], *, title: str | None) -> PlainResult:
    """Drop junk lines and caption echoes; strip labels and a repeated title at the top."""
    kept_paragraphs: list[list[str]] = []
    last_caption: str | None = None
    for lines in paragraphs:
        kept: list[str] = []
        for line in lines:
            reason = junk_reason(line)
            if reason is not None:
                if _CAPTION_LEAD.match(line):
                    last_caption = _CAPTION_LEAD.sub("", line)
                continue
            if last_caption is not None and caption_echo(last_caption, line):
                last_caption = None
                continue  # the long form of a caption just dropped
            last_caption = None
            kept.append(line)
        if kept:
            kept_paragraphs.append(kept)
    stripped, found = _strip_head(kept_paragraphs, title)
    if stripped:
        return PlainResult(stripped, found)
    # Nothing but a headline, labels or junk: that is the item's content, not furniture.
    return PlainResult(kept_paragraphs or paragraphs, None)
