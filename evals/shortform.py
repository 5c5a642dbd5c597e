"""Short items through the in-process pipeline: headlines, flashes and one-line posts.

Items, from ``../shared/data``:

- ``aeb``: the Article Extraction Benchmark pages' own ``<title>`` text (181 real headlines
  from 126 sites, site names and all). Their reference language is the one detected on the
  page's gold article body, a long text;
- ``langid``: the language test sentences, one line each, the first ``SENTENCES`` of each of
  the 75 languages, labelled by their file (all 200 are in ``python -m evals langid``).

Every item goes through ``wirewatch process``'s pipeline (``OfflinePipeline``: validation,
cleaning, language, entities, stories, matching, alert rules) three times, once per shape:
``title`` (``{url, title}``), ``text`` (``{url, text}``) and ``both`` (a text equal to its
title). Each item has its own watchlist whose query is one word of the item, chosen by one
rule for all: the item's rarest word in its language (``pipeline.language.words``; a word a
list lacks is rarest; ties go to the longer, then the earlier word) among the words that are
whole tokens of the item as the matcher reads it, so never a stopword when the item has any
other word.

Per shape: ``enriched_<shape>`` (share of items that come out as a record, not an error),
``alerted_<shape>`` (share of items whose own watchlist alerted on the item's story: once
per story is the rule, so an item that joined a story its watchlist already alerted on
counts, and ``merged_<shape>`` says how many items share a story), ``language_<shape>`` (langid items:
mean accuracy over languages, where a language of a close group that one line cannot
separate, hr/sr/bs, id/ms, nb/nn/da, xh/zu, st/tn, counts as its group; ``_strict``
without that), ``aeb_language_<shape>`` (headlines whose language is their article's) and
``merged_<shape>`` (items sharing a story with another item: different sentences and
different pages should not).

Half of the data was kept aside while the short-item handling was tuned: items of even
line (langid) or even page (aeb, in id order) were looked at, odd ones not. The ``_even``
and ``_odd`` figures pool the three shapes for each half.
"""

from __future__ import annotations

import gzip
import io
import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import lxml.html

from evals.langid import CLOSE_GROUPS
from pipeline import language
from pipeline.entities import KnowledgeBase
from pipeline.language.words import LIST_LANGUAGES, get_word_evidence, words_of
from pipeline.matching import Monitor
from pipeline.query import tokenize
from pipeline.watchlist import Watchlist
from workers.logs import configure_logging
from workers.stages.offline import OfflinePipeline

__all__ = ["SHAPES", "page_titles", "query_word", "run"]

SHAPES = ("title", "text", "both")
SENTENCES = 80  # per language: 40 even, 40 odd lines; 6,000 sentences and 181 headlines
_GROUP_OF = {code: group for group in CLOSE_GROUPS for code in group}
_LIST_OF = {code: name for name, codes in LIST_LANGUAGES.items() for code in codes}


def page_titles(data_dir: Path) -> dict[str, str]:
    """Return each AEB page's own ``<title>`` text (whitespace folded), by page id."""
    root = data_dir / "aeb"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    titles: dict[str, str] = {}
    for page_id in sorted(truth):
        with gzip.open(root / "html" / f"{page_id}.html.gz", "rt", encoding="utf-8") as handle:
            tree = lxml.html.document_fromstring(handle.read())
        element = tree.find(".//head/title")
        if element is None:
            element = tree.find(".//title")
        text = " ".join((element.text_content() if element is not None else "").split())
        if text:
            titles[page_id] = text
    return titles


def query_word(text: str, lang: str) -> str:
    """Return the item's rarest word in ``lang`` (unknown words rarest; then longer, earlier).

    Words as wordfreq spells them (``words_of``) that are one whole token of the item as the
    matcher folds it (not "vg" out of "VG247", not a run of Japanese characters between
    spaces); for text without spaces between words (Chinese, Japanese), the matcher's own
    tokens, one character each.
    """
    tokens = set(tokenize(text))
    words = [w for w in words_of(text, limit=200) if [*tokenize(w), ""][0] in tokens]
    words = [w for w in words if len(tokenize(w)) == 1] or tokenize(text)
    evidence = get_word_evidence()
    name = _LIST_OF.get(lang)

    def rarity(word: str) -> int:
        bucket = evidence.buckets(word).get(name) if name else None
        return 10_000 if bucket is None else bucket  # a higher bucket is a rarer word

    ranked = sorted(enumerate(words), key=lambda p: (-rarity(p[1]), -len(p[1]), p[0]))
    return ranked[0][1]


@dataclass(frozen=True)
class _Item:
    source: str  # aeb | langid
    lang: str  # reference language
    half: str  # even | odd
    text: str


def _items(data_dir: Path) -> list[_Item]:
    items: list[_Item] = []
    truth = json.loads((data_dir / "aeb" / "ground-truth.json").read_text(encoding="utf-8"))
    titles = page_titles(data_dir)
    for n, page_id in enumerate(sorted(truth)):
        if page_id in titles:
            body_lang = language.detect(truth[page_id]["articleBody"]).code
            items.append(_Item("aeb", body_lang, ("even", "odd")[n % 2], titles[page_id]))
    for path in sorted((data_dir / "langid" / "sentences").glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        for n, line in enumerate(lines[:SENTENCES]):
            if line:
                items.append(_Item("langid", path.stem, ("even", "odd")[n % 2], line))
    seen: set[str] = set()
    unique = []
    for item in items:  # an exact duplicate would be a re-crawl, not a new item
        if item.text not in seen:
            seen.add(item.text)
            unique.append(item)
    return unique


def _payload(n: int, item: _Item, shape: str) -> str:
    article: dict[str, str] = {"url": f"https://{item.source}.example/{item.lang}/{n}"}
    if shape in ("title", "both"):
        article["title"] = item.text
    if shape in ("text", "both"):
        article["text"] = item.text
    return json.dumps(article, ensure_ascii=False)


def _run_shape(
    items: list[_Item], shape: str, kb: KnowledgeBase, watchlists: list[Watchlist]
) -> tuple[list[dict[str, object] | None], set[tuple[str, str]]]:
    """Push every item in one shape; return each item's record (None if refused) and the
    (watchlist id, story id) pairs that alerted."""
    pipeline = OfflinePipeline(
        kb=kb, monitor=Monitor(watchlists, kb), watchlists={w.id: w for w in watchlists}
    )
    src = io.BytesIO(
        "\n".join(_payload(n, item, shape) for n, item in enumerate(items)).encode("utf-8")
    )
    out, alerts = io.StringIO(), io.StringIO()
    pipeline.run(src, out, alerts_out=alerts)
    records: list[dict[str, object] | None] = [None] * len(items)
    by_url = {f"https://{item.source}.example/{item.lang}/{n}": n for n, item in enumerate(items)}
    for line in out.getvalue().splitlines():
        record = json.loads(line)
        if "error" in record:
            continue
        records[by_url[record["url"]]] = record
    fired = set()
    for line in alerts.getvalue().splitlines():
        alert = json.loads(line)
        fired.add((alert["watchlist_id"], alert["story_id"]))
    return records, fired


def _language_right(got: str, gold: str, *, strict: bool) -> bool:
    if got == gold:
        return True
    return not strict and gold in _GROUP_OF and got in _GROUP_OF[gold]


def _mean_by_language(rows: list[tuple[_Item, dict[str, object] | None]], *, strict: bool) -> float:
    by_lang: dict[str, list[bool]] = defaultdict(list)
    for item, record in rows:
        code = record["language"]["code"] if record else "und"  # type: ignore[index]
        by_lang[item.lang].append(_language_right(str(code), item.lang, strict=strict))
    return statistics.mean(sum(v) / len(v) for v in by_lang.values()) if by_lang else 0.0


def run(data_dir: Path) -> dict[str, float]:
    """Push every item in every shape; return the shares (see the module docstring)."""
    configure_logging("WARNING", "console")  # as ``wirewatch process`` does
    items = _items(Path(data_dir))
    kb = KnowledgeBase.builtin()
    watchlists = [
        Watchlist(id=f"w{n}", query='"' + query_word(item.text, item.lang).replace('"', " ") + '"')
        for n, item in enumerate(items)
    ]
    metrics: dict[str, float] = {"items": float(len(items))}
    pooled: dict[str, list[tuple[_Item, dict[str, object] | None, bool]]] = defaultdict(list)
    started = time.process_time()
    for shape in SHAPES:
        records, fired = _run_shape(items, shape, kb, watchlists)
        rows = []
        stories: dict[object, int] = defaultdict(int)
        for n, (item, record) in enumerate(zip(items, records, strict=True)):
            alerted = record is not None and (f"w{n}", record["story_id"]) in fired
            rows.append((item, record, alerted))
            pooled[item.half].append((item, record, alerted))
            if record is not None:
                stories[record["story_id"]] += 1
        metrics[f"enriched_{shape}"] = sum(r is not None for _, r, _ in rows) / len(rows)
        metrics[f"alerted_{shape}"] = sum(a for _, _, a in rows) / len(rows)
        langid = [(i, r) for i, r, _ in rows if i.source == "langid"]
        metrics[f"language_{shape}"] = _mean_by_language(langid, strict=False)
        metrics[f"language_strict_{shape}"] = _mean_by_language(langid, strict=True)
        aeb = [(i, r) for i, r, _ in rows if i.source == "aeb"]
        metrics[f"aeb_language_{shape}"] = sum(
            r is not None and r["language"]["code"] == i.lang  # type: ignore[index]
            for i, r in aeb
        ) / max(1, len(aeb))
        metrics[f"merged_{shape}"] = float(
            sum(1 for _, r, _ in rows if r is not None and stories[r["story_id"]] > 1)
        )
    for half in ("even", "odd"):
        rows = pooled[half]
        metrics[f"enriched_{half}"] = sum(r is not None for _, r, _ in rows) / len(rows)
        metrics[f"alerted_{half}"] = sum(a for _, _, a in rows) / len(rows)
        metrics[f"language_{half}"] = _mean_by_language(
            [(i, r) for i, r, _ in rows if i.source == "langid"], strict=False
        )
        aeb = [(i, r) for i, r, _ in rows if i.source == "aeb"]
        metrics[f"aeb_language_{half}"] = sum(
            r is not None and r["language"]["code"] == i.lang  # type: ignore[index]
            for i, r in aeb
        ) / max(1, len(aeb))
    metrics["ms_per_item"] = (time.process_time() - started) * 1000 / (len(items) * len(SHAPES))
    return {k: round(v, 4) for k, v in metrics.items()}
