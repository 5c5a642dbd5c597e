"""Recover story paragraphs that sit in sibling containers of the one trafilatura picked.

Many publishers cut the article body into several containers with the same
tag and class, with advertisements or embeds between them; trafilatura keeps
the best-scoring container and loses the others. This finds the container of
the first extracted paragraph in the original tree and collects paragraphs from
later elements of the same tag and class (readability's "sibling merging",
restricted to exact class matches so sidebars are not pulled in).
"""

from __future__ import annotations

from lxml.html import HtmlElement

from pipeline.cleaning.rules import junk_reason, word_count
from pipeline.text import normalize_line

__all__ = ["sibling_paragraphs"]

# A paragraph must look like prose to be pulled in from a sibling container.
_MIN_WORDS = 8
_MIN_CHARS = 60
_MAX_LINK_SHARE = 0.3
_MAX_PARAGRAPHS = 500
# Siblings must share the main container's parent or grandparent: split bodies sit side by side,
# while widgets that merely reuse a class name (comments, footers) are further away.
_MAX_SHARED_ANCESTOR_LEVEL = 1
_COMMENTS = ("comment", "reply", "respond", "discussion")


def _key(text: str) -> str:
    return " ".join(text.split())[:80]


def _container_of(tree: HtmlElement, probes: set[str]) -> HtmlElement | None:
    """Return the parent element of the first ``<p>`` whose text starts like a probe."""
    for count, para in enumerate(tree.iter("p")):
        if count > _MAX_PARAGRAPHS:
            return None
        if _key(para.text_content()) in probes:
            return para.getparent()
    return None


def _long_enough(text: str) -> bool:
    # characters count too, for scripts without spaces between words
    return word_count(text) >= _MIN_WORDS or len(text) >= _MIN_CHARS


def _is_prose(para: HtmlElement, text: str) -> bool:
    if not _long_enough(text) or junk_reason(text) is not None:
        return False
    linked = sum(len(a.text_content()) for a in para.iter("a"))
    return linked <= _MAX_LINK_SHARE * len(text)


def _in_comments(el: HtmlElement) -> bool:
    """Return True when ``el`` or an ancestor is named like a comment section."""
    for node in (el, *el.iterancestors()):
        name = f"{node.get('id', '')} {node.get('class', '')}".lower()
        if any(word in name for word in _COMMENTS):
            return True
    return False


def sibling_paragraphs(tree: HtmlElement, extracted: list[str]) -> list[str]:
    """Return prose paragraphs from containers shaped like the main one, after it, not yet extracted."""
    probes = {_key(t) for t in extracted if _long_enough(t)}
    if not probes:
        return []
    container = _container_of(tree, probes)
    if container is None or not container.get("class") or container.tag in {"body", "html"}:
        return []
    near = list(container.iterancestors())[: _MAX_SHARED_ANCESTOR_LEVEL + 1]
    seen = {_key(t) for t in extracted}
    found: list[str] = []
    after = False
    for el in tree.iter(container.tag):
        if el is container:
            after = True
            continue
        if not after or el.get("class") != container.get("class") or el in near:
            continue
        if not any(a in near for a in el.iterancestors()) or _in_comments(el):
            continue
        for para in el.iter("p"):
            text = normalize_line(para.text_content())
            if _key(text) not in seen and _is_prose(para, text):
                seen.add(_key(text))
                found.append(text)
    return found
