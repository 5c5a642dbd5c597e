"""Extract the article body from HTML: decode, parse once, trafilatura, then news post-filters.

Why this order: trafilatura's fast mode without comments is both quicker and
more accurate on news pages than its default mode (whose fallback extractors
mostly add boilerplate), so we run it once on a tree we parsed ourselves and
spend the saved time on what trafilatura lacks:

1. filters: leading headline/standfirst, navigation blobs, prompt/caption/credit
   lines (``rules``), link lists under a "Related" label, and the run of
   unpunctuated related-story headlines after the last story sentence;
2. a fallback when the filtered result is tiny: precision mode, then recall mode;
3. sibling merging: story paragraphs in later containers shaped like the main
   one (bodies split around advertisements), see ``merge``.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import charset_normalizer
import lxml.etree
import lxml.html
from lxml.html import HtmlElement
from trafilatura import bare_extraction

from pipeline.cleaning.merge import sibling_paragraphs
from pipeline.cleaning.rules import junk_reason, word_count
from pipeline.errors import ContentError
from pipeline.text import normalize_line, repair_mojibake

__all__ = ["Block", "decode_html", "extract_blocks", "markup_to_text", "parse_html"]

_SNIFF_BYTES = 4096
_DECLARED = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{2,40})""", re.IGNORECASE
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_TAG = re.compile(r"<\s*[A-Za-z!/]")
_BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"BZh",
    b"\x7fELF",
    b"RIFF",
)
_DETECT_BYTES = 262_144
# Tie-break order for charset detection: roughly how common each codec is on news sites.
_WEB_CODECS = (
    "utf_8",
    "cp1252",
    "cp1251",
    "gb18030",
    "gbk",
    "shift_jis",
    "euc_jp",
    "euc_kr",
    "big5",
    "cp1250",
    "iso8859_2",
    "koi8_r",
    "cp1256",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1257",
    "iso8859_15",
)
_DEPTH_LIMIT_MESSAGE = "Excessive depth"
# A recall retry is worth its cost only when fast mode found almost nothing.
_TINY_CHARS = 250
_WORD = re.compile(r"\w+")
# At most this many headings above the first story paragraph are the headline and standfirst;
# a longer run of headings is a list of sections (a deals page) and is kept.
_MAX_LEADING_HEADS = 2
_STORY_WORDS = 12
# A related-link item is a headline, often with a one-sentence teaser.
_TEASER_MAX_WORDS = 40
_STORY_CHARS = 120
# Headlines of other stories: short and unpunctuated. The character cap keeps paragraphs of
# scripts written without spaces (Thai, Chinese), which have few \w+ tokens, out of reach.
_HEADLINE_WORDS = 20
_HEADLINE_CHARS = 160
# Spaced scripts have a space every ~6 characters; far fewer means Thai, Chinese, Japanese...
_CHARS_PER_SPACE = 15


@dataclass
class Block:
    """One block of extracted text: ``kind`` is p, head, item, quote, cell or code."""

    kind: str
    text: str
    group: int  # blocks of one list/table/quote share a group number


def _looks_binary(sample: bytes) -> bool:
    """Return True for bytes that are clearly not a text document."""
    if sample.startswith(_BINARY_MAGIC) or b"\x00" in sample:
        return True
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return controls > len(sample) // 100 + 1


def _codec(name: bytes | str) -> str | None:
    import codecs

    label = name.decode("ascii", "ignore") if isinstance(name, bytes) else name
    try:
        codec = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    # Browsers decode latin-1 and ascii labels as windows-1252 (WHATWG Encoding); so do we.
    return "cp1252" if codec in {"latin-1", "iso8859-1", "ascii"} else codec


def decode_html(data: bytes) -> str:
    """Decode a page read as bytes: BOM, then a declared charset that fits, then detection.

    Raises ``ContentError`` (``empty_body`` / ``not_html``) for empty input and
    for bytes that are binary or contain no markup at all.
    """
    if not data or not data.strip():
        raise ContentError("page is empty", reason="empty_body")
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if data.startswith(bom):
            text = data[len(bom) :].decode(codec, errors="replace")
            break
    else:
        if _looks_binary(data[:_SNIFF_BYTES]):
            raise ContentError("bytes are binary, not an HTML page", reason="not_html")
        text = _decode_unmarked(data)
    if not _TAG.search(text[:65536]):
        raise ContentError("no HTML markup found in the page", reason="not_html")
    return text


def _decode_unmarked(data: bytes) -> str:
    declared = _DECLARED.search(data[:_SNIFF_BYTES])
    codec = _codec(declared.group(1)) if declared else None
    # UTF-16 cannot be declared from inside an ASCII-compatible file; ignore such labels.
    if codec and not codec.startswith("utf-16"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass  # a wrong declaration: fall through to detection
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return data.decode(_detect(data[:_DETECT_BYTES]), errors="replace")


def _detect(sample: bytes) -> str:
    """Return the most likely codec; among equally good guesses prefer the ones common on the web."""
    matches = list(charset_normalizer.from_bytes(sample))
    if not matches:
        return "cp1252"
    best = matches[0]
    tied = [m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    return min(tied, key=lambda e: _WEB_CODECS.index(e) if e in _WEB_CODECS else len(_WEB_CODECS))


def parse_html(html: str) -> HtmlElement:
    """Parse ``html`` into a tree; raise ``ContentError`` for markup nested too deeply to parse."""
    parser = lxml.html.HTMLParser(
        collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True
    )
    html = _XML_DECL.sub("", html, count=1)
    try:
        tree = lxml.html.document_fromstring(html, parser=parser)
    except (lxml.etree.ParserError, ValueError) as err:
        raise ContentError(f"page could not be parsed: {err}", reason="not_html") from err
    if any(_DEPTH_LIMIT_MESSAGE in entry.message for entry in parser.error_log):
        raise ContentError(
            "markup is nested deeper than the parser's 256-level limit", reason="deeply_nested"
        )
    return tree


# Elements whose end is a line break when a fragment becomes text; script and style are dropped.
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6"
    " header hr li main nav ol p pre section table tr ul".split()
)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]\w*);")


def markup_to_text(fragment: str) -> str:
    """Return the text of an HTML fragment (a JSON-LD body, a feed summary), one line per block.

    Plain text comes back with character references (``&amp;``, ``&#39;``) resolved; markup
    is parsed (never fetched: no network, no entities beyond HTML's own) and each block
    element ends a line. Never raises: markup lxml cannot parse loses its tags by pattern.
    """
    if not _TAG.search(fragment):
        return html_lib.unescape(fragment) if _ENTITY.search(fragment) else fragment
    parser = lxml.html.HTMLParser(
        collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True
    )
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div", parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return html_lib.unescape(re.sub(r"<[^>]*>", " ", fragment))
    for el in list(root.iter("script", "style", "noscript", "template")):
        el.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
    return str(root.text_content())


def _run_trafilatura(tree: HtmlElement, url: str, *, mode: str) -> lxml.etree._Element | None:
    """Return trafilatura's body tree for ``mode`` (fast, precision, recall), or None if it found none.

    ``bare_extraction`` copies a tree it is given, so ``tree`` stays intact for the next pass.
    """
    try:
        document = bare_extraction(
            tree,
            url=url,
            fast=mode == "fast",
            favor_precision=mode == "precision",
            favor_recall=mode == "recall",
            include_comments=False,
            include_tables=True,
            with_metadata=False,
        )
    except RecursionError as err:
        raise ContentError(
            "markup is too deeply nested to extract", reason="deeply_nested"
        ) from err
    except Exception as err:  # noqa: BLE001 - a third-party crash on one page must not kill a worker
        raise ContentError(
            f"extraction failed: {type(err).__name__}", reason="extraction_failed"
        ) from err
    if document is None or isinstance(document, dict):
        return None
    body: lxml.etree._Element | None = document.body
    return body


def _text_of(el: lxml.etree._Element) -> str:
    """Return an element's text with ``<lb/>`` as newlines and whitespace collapsed per line."""
    for lb in el.iter("lb"):
        lb.text = "\n"  # the extracted tree is ours to change
    # repair before the junk rules read it: "cafÃ©" would otherwise look like a "©" line
    text = repair_mojibake("".join(el.itertext()))
    lines = (normalize_line(line) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _loose(text: str | None, group: int) -> Iterator[Block]:
    """Yield text that trafilatura left outside any block (in a tail) as a paragraph."""
    if text and text.strip():
        lines = (normalize_line(line) for line in repair_mojibake(text).split("\n"))
        yield Block("p", "\n".join(line for line in lines if line), group)


def _blocks(body: lxml.etree._Element) -> Iterator[Block]:
    yield from _loose(body.text, -1)
    for group, child in enumerate(body):
        yield from _child_blocks(child, group)
        yield from _loose(child.tail, group)


def _child_blocks(child: lxml.etree._Element, group: int) -> Iterator[Block]:
    tag = child.tag
    if tag == "list":
        for item in child.iter("item"):
            text = _text_of(item)
            if text:
                yield Block("item", text, group)
    elif tag == "table":
        for row in child.iter("row"):
            cells = [_text_of(cell) for cell in row.iter("cell")]
            text = " | ".join(c for c in cells if c)
            if text:
                yield Block("cell", text, group)
    elif tag in {"p", "head", "quote", "code"}:
        text = _text_of(child)
        if text:
            yield Block(str(tag), text, group)


def extract_blocks(tree: HtmlElement, url: str, *, title: str | None = None) -> list[Block]:
    """Return the article's blocks from ``tree`` (not modified).

    Fast mode first; when its filtered result is tiny (a page trafilatura
    misreads, or whose only candidate was a navigation blob), retry with
    precision and then recall settings and keep the longest filtered result.
    """
    body = _run_trafilatura(tree, url, mode="fast")
    best = filter_blocks(list(_blocks(body)), title=title) if body is not None else []
    for mode in ("precision", "recall"):
        if _size(best) >= _TINY_CHARS:
            break
        retry = _run_trafilatura(tree, url, mode=mode)
        if retry is not None:
            candidate = filter_blocks(list(_blocks(retry)), title=title)
            if _size(candidate) > _size(best):
                best = candidate
    extra = sibling_paragraphs(tree, [b.text for b in best])
    return best + [Block("p", text, -2) for text in extra]


def _size(blocks: list[Block]) -> int:
    return sum(len(b.text) for b in blocks)


def _is_story(text: str) -> bool:
    """Return True for a paragraph long enough to be story text (words, or characters for CJK/Thai)."""
    return word_count(text) >= _STORY_WORDS or len(text) >= _STORY_CHARS


def _is_headline(text: str) -> bool:
    """Return True for a short line without closing punctuation: a link or headline, not prose.

    Only for scripts that separate words with spaces: Thai or Chinese paragraphs have few
    spaces and often end without punctuation, so their shape says nothing.
    """
    words = _WORD.findall(text)
    if not words or len(words) > _HEADLINE_WORDS or len(text) > _HEADLINE_CHARS:
        return False
    if text.count(" ") * _CHARS_PER_SPACE < len(text):
        return False
    return not _is_sentence(text)


def _title_key(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def _is_sentence(text: str) -> bool:
    return text.rstrip("\"'”’)]» ").endswith((".", "!", "?", "。", "！", "？", ":", "…"))


def _is_nav_blob(text: str) -> bool:
    """Return True for a long run of menu labels: many capitalised words, almost no punctuation."""
    words = _WORD.findall(text)
    if len(words) < 50:
        return False
    punct = sum(text.count(c) for c in ".!?,;:")
    if punct > len(words) / 50:
        return False
    capitalised = sum(1 for w in words if w[0].isupper() or w[0].isdigit())
    return capitalised >= 0.5 * len(words)


def filter_blocks(blocks: list[Block], *, title: str | None = None) -> list[Block]:
    """Drop boilerplate blocks: junk lines, leading headlines, nav blobs, trailing headline lists."""
    kept: list[Block] = []
    first_story = next(
        (i for i, b in enumerate(blocks) if b.kind == "p" and _is_story(b.text)), len(blocks)
    )
    leading_heads = sum(1 for b in blocks[:first_story] if b.kind == "head")
    in_link_list = False
    title_key = _title_key(title) if title else ""
    for index, block in enumerate(blocks):
        if block.kind == "head" and index < first_story and leading_heads <= _MAX_LEADING_HEADS:
            continue  # the headline and standfirst: they are metadata, not body
        if index < first_story and title_key and _title_key(block.text) == title_key:
            continue  # the headline again, as a paragraph
        if _is_nav_blob(block.text):
            continue
        if in_link_list:
            # under a "Related"/"Read more" prompt: link titles until the story resumes
            if _is_headline(block.text) or (
                block.kind == "item" and word_count(block.text) <= _TEASER_MAX_WORDS
            ):
                continue
            in_link_list = False
        reasons = [junk_reason(line) for line in block.text.split("\n")]
        lines = [
            line for line, why in zip(block.text.split("\n"), reasons, strict=True) if why is None
        ]
        if not lines:
            in_link_list = reasons[-1] == "prompt"
            continue
        kept.append(Block(block.kind, "\n".join(lines), block.group))
    return _drop_trailing_headlines(kept)


def _drop_trailing_headlines(blocks: list[Block]) -> list[Block]:
    """Drop the run of short, unpunctuated lines after the last story sentence (related links)."""
    end = len(blocks)
    while end > 0:
        block = blocks[end - 1]
        if block.kind in {"p", "item", "head"} and _is_headline(block.text):
            end -= 1
            continue
        break
    # Keep a lone short closing line (a sign-off); only a run of two or more is a link list,
    # and only after some story text (a page of short lines is a list, not related links).
    if len(blocks) - end >= 2 and any(_is_story(b.text) for b in blocks[:end]):
        return blocks[:end]
    return blocks
