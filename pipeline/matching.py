"""Match enriched records against watchlists through a presearch index.

The approach of Lucene Monitor (Luwak): each compiled query is indexed by terms the
article *must* contain for it to match -- an entity id, a word, or the first letters of a
prefix. An OR needs any branch's terms; an AND needs only its most selective conjunct
(the cheapest by an estimate of how common its terms are). A second key makes a
two-level index: a query is a candidate only when the article holds both keys. The second
key is another required word, one of the alternatives of an OR conjunct, or for a phrase
two of its words as adjacent words (a bigram). Both levels are filtered with C-speed set
intersections, bigrams with one substring test each. An article is analysed once (tokens,
entity ids, prefix keys) and only the candidates are evaluated.

``match_bruteforce`` evaluates every watchlist with the same compiled evaluators; the
benchmark compares both and requires identical results. Explanations (``Match`` with
spans and a highlighted snippet) are built only for the watchlists that matched.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import QueryError
from pipeline.models import EnrichedRecord, Match
from pipeline.query import (
    And,
    EntityLookup,
    EntityRef,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Prefix,
    Query,
    Source,
    Words,
    compile_query,
    fold_exact,
    fold_offsets,
    token_spans,
)
from pipeline.watchlist import Watchlist

__all__ = [
    "MAX_SPANS",
    "CompiledWatchlist",
    "Monitor",
    "WatchlistHit",
    "compile_watchlist",
    "explain_miss",
    "explain_record",
]

_ENT = "\x01"  # key prefixes that no word token can contain
_PFX = "\x02"
_BIG = "\x03"  # a bigram key: two adjacent words, only ever a second key
_PREFIX_KEY_LEN = 3  # == query.MIN_PREFIX: every prefix query is indexed by its first 3 letters
_PREFIX_KEYS = re.compile(_PFX + r"\S{" + str(_PREFIX_KEY_LEN) + "}")  # tokens joined by " " + _PFX
MAX_ALTERNATIVES = 8  # second keys taken from an OR conjunct (one index entry each)
MAX_SPANS = 10  # spans reported per match; an article can repeat a word hundreds of times
SNIPPET_CONTEXT = 60  # characters of context on each side of the highlighted match

# Very common words in the languages we see most: a query indexed by one of them would be
# a candidate for nearly every article, so the planner prefers any other conjunct.
_COMMON = frozenset(
    """a an and are as at be been but by for from had has have he her his i in is it its not of on
    or said she that the their they this to was we were which will with would you
    de la le les des du et en un une est pour que qui dans sur au aux par pas plus
    der die das und ist von mit den dem zu ein eine im nicht sich auf für
    el los las del y que en un una por con para es al se lo
    il di che e non per una sono""".split()
)


@dataclass(frozen=True)
class WatchlistHit:
    """One watchlist that matched a record, with the explanation."""

    watchlist: Watchlist
    matches: list[Match]


Evaluator = Callable[["_Doc"], bool]


@dataclass(frozen=True)
class CompiledWatchlist:
    """A watchlist with its query compiled: an evaluator and its presearch keys."""

    watchlist: Watchlist
    query: Query
    evaluate: Evaluator
    keys: tuple[tuple[str, str], ...]  # presearch (primary, secondary) key pairs


# --- article analysis -------------------------------------------------------------------


def _match_tokens(folded: str, pos: int, tokens: tuple[str, ...], prefix: bool) -> int:
    """Return the end of ``tokens`` read from ``pos`` in folded text (any whitespace between), else -1.

    With ``prefix`` the single token may continue: the end is the end of that word.
    """
    n = len(folded)
    end = pos + len(tokens[0])
    for tok in tokens[1:]:
        j = end
        while j < n and folded[j].isspace():
            j += 1
        if j == end or not folded.startswith(tok, j):
            return -1
        end = j + len(tok)
    if prefix:
        while end < n and not folded[end].isspace():
            end += 1
        return end
    return end if end == n or folded[end].isspace() else -1


class _FieldIndex:
    """Character spans of one field's tokens, built only when needed (entity NEAR, NEAR explanations)."""

    __slots__ = ("ends", "spans", "starts")

    def __init__(self, text: str) -> None:
        _, self.spans = token_spans(text)
        self.starts = [s for s, _ in self.spans]
        self.ends = [e for _, e in self.spans]


class _Doc:
    """One article analysed once for every watchlist: token sets, joined text, entity ids, keys."""

    __slots__ = (
        "A",
        "E",
        "H",
        "JH",
        "JT",
        "T",
        "_analysed",
        "_fields",
        "_folded",
        "_sources",
        "keys",
        "lang",
        "record",
    )

    def __init__(self, record: EnrichedRecord) -> None:
        self.record = record
        self._analysed = {"text": fold_exact(record.text), "title": fold_exact(record.title or "")}
        text_tokens = self._analysed["text"][0].split()
        title_tokens = self._analysed["title"][0].split()
        self.T = set(text_tokens)
        self.H = set(title_tokens)
        # Phrases are substring tests on the space-joined tokens: C speed, no positions needed.
        self.JT = " " + " ".join(text_tokens) + " "
        self.JH = " " + " ".join(title_tokens) + " "
        self.E: dict[str, float] = {}
        for ent in record.entities:
            if ent.salience > self.E.get(ent.id, -1.0):
                self.E[ent.id] = ent.salience
        self.lang = record.language.code.lower()
        self._sources: tuple[str, ...] | None = None
        # The presearch keys: every word, prefix keys of every word (one regex pass over
        # the words, each led by the key marker: a Python loop costs a third more) and
        # entity keys. ``A`` is the same set: no word equals a marked key, so word tests
        # on it are word tests on title and text, and one set is built instead of two.
        keys = self.T | self.H
        keys.update(_PREFIX_KEYS.findall(_PFX + (" " + _PFX).join(keys)))
        keys.update([_ENT + i for i in self.E])
        self.keys = self.A = keys
        self._fields: dict[str, _FieldIndex] = {}
        self._folded: dict[str, tuple[str, list[int] | None]] = {}

    def field(self, name: str) -> _FieldIndex:
        idx = self._fields.get(name)
        if idx is None:
            text = self.record.text if name == "text" else (self.record.title or "")
            idx = self._fields[name] = _FieldIndex(text)
        return idx

    def has_prefix(self, prefix: str, field: str) -> bool:
        if field == "any":
            return self.has_prefix(prefix, "text") or self.has_prefix(prefix, "title")
        if _PFX + prefix[:_PREFIX_KEY_LEN] not in self.keys:
            return False
        # A token starts with the prefix iff " prefix" occurs in the space-joined tokens.
        return (" " + prefix) in (self.JT if field == "text" else self.JH)

    def folded(self, field: str) -> tuple[str, list[int] | None]:
        """Return the folded text of ``field`` and its offset map (``query.fold_offsets``)."""
        got = self._folded.get(field)
        if got is None:
            text = self.record.text if field == "text" else (self.record.title or "")
            got = self._folded[field] = fold_offsets(text, self._analysed[field])
        return got

    def char_spans(self, leaf: Words | Prefix, field: str) -> list[tuple[int, int]]:
        """Return up to ``MAX_SPANS`` character spans of a word, phrase or prefix in ``field``."""
        if leaf.field not in ("any", field):
            return []
        folded, origin = self.folded(field)
        tokens = leaf.tokens if isinstance(leaf, Words) else (leaf.prefix,)
        prefix = isinstance(leaf, Prefix)
        out: list[tuple[int, int]] = []
        # str.find (C speed) proposes starts; a short scan confirms token boundaries. No
        # token starts inside a found one (its characters are not spaces): skip past it.
        first, n = tokens[0], len(folded)
        word = len(tokens) == 1 and not prefix
        pos = folded.find(first)
        while pos != -1 and len(out) < MAX_SPANS:
            skip = pos + len(first)
            if pos == 0 or folded[pos - 1].isspace():
                if word:  # the usual leaf: one word, so only its end needs a look
                    end = skip if skip == n or folded[skip].isspace() else -1
                else:
                    end = _match_tokens(folded, pos, tokens, prefix)
                if end != -1:
                    out.append((pos, end) if origin is None else (origin[pos], origin[end - 1] + 1))
            pos = folded.find(first, skip)
        return out

    def mention_spans(self, entity_id: str, min_salience: float) -> list[tuple[int, int]]:
        """Return the character spans of ``entity_id``'s mentions (entities below ``min_salience`` excluded)."""
        out = {
            (m.start, m.end)
            for ent in self.record.entities
            if ent.id == entity_id and ent.salience >= min_salience
            for m in ent.mentions
        }
        return sorted(out)

    @property
    def sources(self) -> tuple[str, ...]:
        """The record's source and URL host without ``www.``, on first use (few queries filter on them)."""
        if self._sources is None:
            found = set()
            if self.record.source:
                found.add(self.record.source.strip().lower().removeprefix("www."))
            url = self.record.url
            host = urlsplit(url).hostname if "://" in url else None
            if host:
                found.add(host.lower().removeprefix("www."))
            self._sources = tuple(found)
        return self._sources

    def from_source(self, domain: str) -> bool:
        return any(s == domain or s.endswith("." + domain) for s in self.sources)

    def occurrences(self, leaf: Node, field: str, min_salience: float) -> list[tuple[int, int]]:
        """Return ``[start, end)`` token ranges of ``leaf`` in ``field``, sorted by start."""
        if isinstance(leaf, Or):
            out = [o for c in leaf.children for o in self.occurrences(c, field, min_salience)]
            return sorted(set(out))
        if isinstance(leaf, Words | Prefix):
            if leaf.field not in ("any", field):
                return []
            # Token positions from the space-joined tokens: " a b " found at offset p starts
            # at the token numbered by the spaces before it; counting is C speed.
            joined = self.JT if field == "text" else self.JH
            if isinstance(leaf, Words):
                pattern, width = " " + " ".join(leaf.tokens) + " ", len(leaf.tokens)
            else:
                pattern, width = " " + leaf.prefix, 1
            out = []
            spaces, counted = 0, 0
            p = joined.find(pattern)
            while p != -1:
                spaces += joined.count(" ", counted, p + 1)
                counted = p + 1
                out.append((spaces - 1, spaces - 1 + width))
                p = joined.find(pattern, p + 1)
            return out
        idx = self.field(field)
        if isinstance(leaf, EntityRef):
            if field != "text" or self.E.get(leaf.id or "", -1.0) < min_salience:
                return []
            out = []
            for ent in self.record.entities:
                if ent.id == leaf.id and ent.salience >= min_salience:
                    for m in ent.mentions:
                        a, b = bisect_right(idx.ends, m.start), bisect_left(idx.starts, m.end)
                        if a < b:
                            out.append((a, b))
            return sorted(set(out))
        return []

    def near_pairs(
        self, node: Near, field: str, min_salience: float, first_only: bool
    ) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """Return pairs of left/right occurrences at most ``distance`` words apart in ``field``."""
        left = self.occurrences(node.left, field, min_salience)
        if not left:
            return []
        right = self.occurrences(node.right, field, min_salience)
        if not right:
            return []
        starts = [s for s, _ in right]
        longest = max(e - s for s, e in right)
        n = node.distance
        pairs = []
        for a in left:
            lo = bisect_left(starts, a[0] - n - longest)
            hi = bisect_right(starts, a[1] + n)
            for b in right[lo:hi]:
                if (b[0] >= a[1] and b[0] - a[1] <= n) or (a[0] >= b[1] and a[0] - b[1] <= n):
                    pairs.append((a, b))
                    if first_only:
                        return pairs
        return pairs

    def near(self, node: Near, field: str, min_salience: float) -> bool:
        fields = ("text", "title") if field == "any" else (field,)
        return any(self.near_pairs(node, f, min_salience, True) for f in fields)


# --- compiling queries to evaluators ----------------------------------------------------


def _all(fns: list[Evaluator]) -> Evaluator:
    if len(fns) == 1:
        return fns[0]
    if len(fns) == 2:
        f, g = fns
        return lambda d: f(d) and g(d)
    funcs = tuple(fns)

    def conj(d: _Doc) -> bool:
        for fn in funcs:
            if not fn(d):
                return False
        return True

    return conj


def _any(fns: list[Evaluator]) -> Evaluator:
    if len(fns) == 1:
        return fns[0]
    if len(fns) == 2:
        f, g = fns
        return lambda d: f(d) or g(d)
    funcs = tuple(fns)

    def disj(d: _Doc) -> bool:
        for fn in funcs:
            if fn(d):
                return True
        return False

    return disj


def _word_set_test(words: frozenset[str], field: str, conjunctive: bool) -> Evaluator:
    # One C-level set operation for all single words of an AND / OR in one field.
    if len(words) == 1:
        (w,) = words
        if field == "text":
            return lambda d: w in d.T
        if field == "title":
            return lambda d: w in d.H
        return lambda d: w in d.A
    if conjunctive:
        if field == "text":
            return lambda d: words <= d.T
        if field == "title":
            return lambda d: words <= d.H
        return lambda d: words <= d.A
    if field == "text":
        return lambda d: not words.isdisjoint(d.T)
    if field == "title":
        return lambda d: not words.isdisjoint(d.H)
    return lambda d: not words.isdisjoint(d.A)


def _build(node: Node, ms: float) -> Evaluator:
    if isinstance(node, Words):
        if len(node.tokens) == 1:
            return _word_set_test(frozenset(node.tokens), node.field, True)
        pat = " " + " ".join(node.tokens) + " "
        if node.field == "text":
            return lambda d: pat in d.JT
        if node.field == "title":
            return lambda d: pat in d.JH
        return lambda d: pat in d.JT or pat in d.JH
    if isinstance(node, Prefix):
        prefix, pfield = node.prefix, node.field
        return lambda d: d.has_prefix(prefix, pfield)
    if isinstance(node, EntityRef):
        eid = node.id or node.value
        if ms <= 0.0:
            return lambda d: eid in d.E
        return lambda d: d.E.get(eid, -1.0) >= ms
    if isinstance(node, Lang):
        code = node.code
        return lambda d: d.lang == code
    if isinstance(node, Source):
        domain = node.domain
        return lambda d: d.from_source(domain)
    if isinstance(node, Not):
        inner = _build(node.child, ms)
        return lambda d: not inner(d)
    if isinstance(node, Near):
        near, nfield = node, _near_field(node)
        left, right = _build(node.left, ms), _build(node.right, ms)
        # Both sides must occur before positions are worth computing.
        return lambda d: left(d) and right(d) and d.near(near, nfield, ms)
    conjunctive = isinstance(node, And)
    singles: dict[str, set[str]] = {}
    others: list[Evaluator] = []
    for child in node.children:
        if isinstance(child, Words) and len(child.tokens) == 1:
            singles.setdefault(child.field, set()).add(child.tokens[0])
        else:
            others.append(_build(child, ms))
    # Cheap set tests first, then phrases/entities, positional (NEAR, prefix) tests last.
    fns = [_word_set_test(frozenset(ws), f, conjunctive) for f, ws in singles.items()] + others
    return _all(fns) if conjunctive else _any(fns)


def _near_field(node: Near) -> str:
    fields = {leaf.field for leaf in _near_leaves(node) if isinstance(leaf, Words | Prefix)}
    fields.discard("any")
    if any(isinstance(leaf, EntityRef) for leaf in _near_leaves(node)):
        fields.add("text")  # entity mentions are spans into the text
    return fields.pop() if fields else "any"  # the parser refuses operands from two fields


def _near_leaves(node: Near) -> list[Node]:
    out: list[Node] = []
    for side in (node.left, node.right):
        out.extend(side.children if isinstance(side, Or) else (side,))
    return out


def _with_filters(fn: Evaluator, w: Watchlist) -> Evaluator:
    langs = frozenset(code.lower() for code in w.languages)
    include = tuple(d.lower().removeprefix("www.") for d in w.sources.get("include", []))
    exclude = tuple(d.lower().removeprefix("www.") for d in w.sources.get("exclude", []))
    # The language first (cheap, and it rejects most articles), the sources after the
    # query: an excluded source rarely rejects, and the sources are worked out on first use.
    checks: list[Evaluator] = [fn]
    if langs:
        checks.insert(0, lambda d: d.lang in langs)
    if include:
        checks.append(lambda d: any(d.from_source(x) for x in include))
    if exclude:
        checks.append(lambda d: not any(d.from_source(x) for x in exclude))
    return _all(checks)


# --- presearch planning -----------------------------------------------------------------


def _key_cost(key: str) -> float:
    """Estimate how often ``key`` occurs in an article (lower = more selective)."""
    if key.startswith(_ENT):
        return 2.0
    if key.startswith(_PFX):
        return 40.0
    if key in _COMMON:
        return 1000.0
    if len(key) <= 2:  # initials, "s" of possessives, particles
        return 200.0
    if key.isdigit():
        return 30.0
    return max(1.0, 16.0 - len(key))


Pair = tuple[str, str]  # (primary key, secondary key or "" for none)


def _pair_cost(pair: Pair) -> float:
    # A second required key filters most candidates out before any evaluation.
    return _key_cost(pair[0]) * (0.05 if pair[1] else 1.0)


def _rank(keys: Iterable[str]) -> list[str]:
    """Return the distinct ``keys``, most selective first (ties by name, so plans are stable)."""
    return sorted(set(keys), key=lambda k: (_key_cost(k), k))


def _bigram_key(tokens: tuple[str, ...], rarest: str) -> str:
    """Return the bigram key of a phrase: its rarest word with the rarer of its neighbours."""
    i = tokens.index(rarest)
    around = [tokens[j : j + 2] for j in (i - 1, i) if 0 <= j and j + 1 < len(tokens)]
    pair = min(around, key=lambda bg: (_key_cost(bg[0] if bg[1] == rarest else bg[1]), bg))
    return _BIG + " ".join(pair)


def _required_keys(node: Node) -> set[str]:
    """Return keys that every article matching ``node`` contains."""
    if isinstance(node, Words):
        return set(node.tokens)
    if isinstance(node, Prefix):
        return {_PFX + node.prefix[:_PREFIX_KEY_LEN]}
    if isinstance(node, EntityRef):
        return {_ENT + (node.id or node.value)}
    if isinstance(node, And):
        return set().union(*(_required_keys(c) for c in node.children))
    if isinstance(node, Near):
        return _required_keys(node.left) | _required_keys(node.right)
    return set()  # Or, Not, Lang, Source


def _pairs(node: Node) -> list[Pair] | None:
    """Return key pairs such that an article ``node`` matches contains both keys of one pair.

    ``None`` means nothing an index could use (NOT, lang:, source: alone).
    """
    if isinstance(node, Words):
        rarest = _rank(node.tokens)[0]
        if len(node.tokens) == 1:
            return [(rarest, "")]
        # Two adjacent words, not just two words of the article: a phrase whose second
        # word is common ("catalogue and") is otherwise a candidate wherever its rare one is.
        return [(rarest, _bigram_key(node.tokens, rarest))]
    if isinstance(node, Prefix | EntityRef):
        return [(next(iter(_required_keys(node))), "")]
    if isinstance(node, Or):
        plans = [_pairs(c) for c in node.children]
        if any(p is None for p in plans):
            return None
        return list(dict.fromkeys(pair for p in plans if p is not None for pair in p))
    if isinstance(node, And | Near):
        return _conjunction_pairs(
            list(node.children if isinstance(node, And) else (node.left, node.right))
        )
    return None


def _conjunction_pairs(children: list[Node]) -> list[Pair] | None:
    """Pairs of an AND/NEAR: the cheapest conjunct's, each given a second key from another.

    The second key is one every match contains (the cheapest other required word) or,
    when no conjunct has one (an OR), one pair per alternative of the cheapest other
    conjunct: ``entity:X AND (a OR b)`` is indexed by ``(X, a)`` and ``(X, b)``.
    """
    plans = [p for p in (_pairs(c) for c in children) if p]
    if not plans:
        return None
    best = min(plans, key=lambda p: (sum(_pair_cost(pair) for pair in p), p))
    if all(secondary for _, secondary in best):
        return best
    required = _rank(set().union(*map(_required_keys, children)))
    others = [p for p in plans if p is not best and len(p) <= MAX_ALTERNATIVES]
    alternatives = min(others, key=lambda p: (sum(_key_cost(k) for k, _ in p), p), default=None)
    out = []
    for primary, secondary in best:
        if secondary:
            out.append((primary, secondary))
            continue
        fixed = next((k for k in required if k != primary), "")
        if alternatives and (
            not fixed or sum(_key_cost(k) for k, _ in alternatives) < _key_cost(fixed)
        ):
            out.extend((primary, k) for k, _ in alternatives if k != primary)
            if any(k == primary for k, _ in alternatives):
                out.append((primary, ""))  # the primary alone satisfies the other conjunct
        else:
            out.append((primary, fixed))
    return list(dict.fromkeys(out))


def _plan(root: Node) -> tuple[Pair, ...]:
    pairs = _pairs(root)
    if not pairs:  # compile_query refuses such queries; kept as a guard
        raise QueryError(
            "position 0: query has no indexable term", position=0, reason="query_too_expensive"
        )
    # A primary key listed once without a second key is unconditional: drop its others.
    bare = {key for key, key2 in pairs if not key2}
    return tuple(dict.fromkeys((key, "" if key in bare else key2) for key, key2 in pairs))


def compile_watchlist(w: Watchlist, kb: EntityLookup | None = None) -> CompiledWatchlist:
    """Compile ``w``'s query (entities resolved through ``kb``); raise ``QueryError`` if it is refused."""
    query = compile_query(w.query, kb)
    fn = _with_filters(_build(query.root, w.min_salience), w)
    keys = _plan(query.root)
    return CompiledWatchlist(watchlist=w, query=query, evaluate=fn, keys=keys)


# --- explanations -----------------------------------------------------------------------


def _snippet(text: str, start: int, end: int) -> str:
    lo, hi = max(0, start - SNIPPET_CONTEXT), min(len(text), end + SNIPPET_CONTEXT)
    if lo > 0 and (cut := text.find(" ", lo, start)) != -1:
        lo = cut + 1
    if hi < len(text) and (cut := text.rfind(" ", end, hi)) != -1:
        hi = cut
    body = f"{text[lo:start]}«{text[start:end]}»{text[end:hi]}"
    # Whitespace runs become one space. A body of printable characters (every whitespace
    # but " " is not printable) with no double or outer space has none: skip split/join.
    if not (body.isprintable() and "  " not in body and body[:1] != " " and body[-1:] != " "):
        body = " ".join(body.split())
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(text) else "")


def _leaf_match(leaf: Node, d: _Doc, field: str, chars: list[tuple[int, int]]) -> Match:
    # Spans go in as plain dicts: one validation of the whole Match builds the same
    # Span objects at less cost than constructing each one first.
    spans = [{"start": a, "end": b} for a, b in chars[:MAX_SPANS]]
    text = d.record.text if field == "text" else (d.record.title or "")
    snippet = _snippet(text, chars[0][0], chars[0][1]) if chars else ""
    fld = "title" if field == "title" else "text"
    if isinstance(leaf, EntityRef):
        return Match.model_validate(
            {"entity": leaf.id, "field": fld, "spans": spans, "snippet": snippet}
        )
    raw = leaf.raw if isinstance(leaf, Words | Prefix) else ""
    return Match.model_validate({"term": raw, "field": fld, "spans": spans, "snippet": snippet})


def _token_chars(d: _Doc, field: str, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans = d.field(field).spans
    return [(spans[a][0], spans[b - 1][1]) for a, b in ranges[:MAX_SPANS]]


def _explain(node: Node, d: _Doc, ms: float) -> list[Match] | None:
    """Return the matches that make ``node`` true on ``d``, or ``None`` when it is false."""
    # One dict lookup on the node type rather than a chain of isinstance tests: this
    # runs for every node of every hit.
    return _EXPLAIN[type(node)](node, d, ms)


def _explain_and(node: And, d: _Doc, ms: float) -> list[Match] | None:
    out: list[Match] = []
    for c in node.children:
        sub = _explain(c, d, ms)
        if sub is None:
            return None
        out += sub
    return out


def _explain_or(node: Or, d: _Doc, ms: float) -> list[Match] | None:
    subs = [s for s in (_explain(c, d, ms) for c in node.children) if s is not None]
    return [m for s in subs for m in s] if subs else None


def _explain_not(node: Not, d: _Doc, ms: float) -> list[Match] | None:
    return None if _build(node.child, ms)(d) else []


def _explain_lang(node: Lang, d: _Doc, ms: float) -> list[Match] | None:
    return [Match(term=f"lang:{node.code}", field="lang")] if d.lang == node.code else None


def _explain_source(node: Source, d: _Doc, ms: float) -> list[Match] | None:
    if not d.from_source(node.domain):
        return None
    return [Match(term=f"source:{node.domain}", field="source")]


def _explain_near(node: Near, d: _Doc, ms: float) -> list[Match] | None:
    fields = ("text", "title") if (f := _near_field(node)) == "any" else (f,)
    out: list[Match] = []
    for fld in fields:
        pairs = d.near_pairs(node, fld, ms, False)
        if pairs:
            out += _near_side(node.left, {a for a, _ in pairs}, d, fld, ms)
            out += _near_side(node.right, {b for _, b in pairs}, d, fld, ms)
    return out or None


def _explain_entity(node: EntityRef, d: _Doc, ms: float) -> list[Match] | None:
    eid = node.id or node.value
    if d.E.get(eid, -1.0) < ms or eid not in d.E:
        return None
    chars = d.mention_spans(eid, ms)
    if not chars:  # the entity is on the record without mentions
        return [Match(entity=eid, field="text")]
    return [_leaf_match(node, d, "text", chars)]


def _explain_words(node: Words | Prefix, d: _Doc, ms: float) -> list[Match] | None:
    out = []
    for fld in ("text", "title") if node.field == "any" else (node.field,):
        # The cheap test of the evaluator first: most leaves occur in one field only.
        if _in_field(node, d, fld):
            chars = d.char_spans(node, fld)
            if chars:
                out.append(_leaf_match(node, d, fld, chars))
    return out or None


_EXPLAIN: dict[type, Callable[[Any, _Doc, float], list[Match] | None]] = {
    And: _explain_and,
    Or: _explain_or,
    Not: _explain_not,
    Lang: _explain_lang,
    Source: _explain_source,
    Near: _explain_near,
    EntityRef: _explain_entity,
    Words: _explain_words,
    Prefix: _explain_words,
}


def _in_field(leaf: Words | Prefix, d: _Doc, field: str) -> bool:
    joined = d.JT if field == "text" else d.JH
    if isinstance(leaf, Prefix):
        return (" " + leaf.prefix) in joined
    if len(leaf.tokens) == 1:
        return leaf.tokens[0] in (d.T if field == "text" else d.H)
    return (" " + " ".join(leaf.tokens) + " ") in joined


def _near_side(
    side: Node, used: set[tuple[int, int]], d: _Doc, field: str, ms: float
) -> list[Match]:
    """Return one match per branch of a NEAR operand, with the occurrences that were near."""
    out = []
    for leaf in side.children if isinstance(side, Or) else (side,):
        ranges = sorted(used.intersection(d.occurrences(leaf, field, ms)))
        if ranges:
            out.append(_leaf_match(leaf, d, field, _token_chars(d, field, ranges)))
    return out


def explain_record(compiled: CompiledWatchlist, record: EnrichedRecord) -> WatchlistHit | None:
    """Evaluate one compiled watchlist on ``record``; return the hit with its matches, or ``None``."""
    d = _Doc(record)
    if not compiled.evaluate(d):
        return None
    return WatchlistHit(
        compiled.watchlist, _explain(compiled.query.root, d, compiled.watchlist.min_salience) or []
    )


def explain_miss(compiled: CompiledWatchlist, record: EnrichedRecord) -> list[str]:
    """Return human-readable reasons why ``compiled`` does not match ``record`` (empty if it does)."""
    d = _Doc(record)
    w = compiled.watchlist
    if compiled.evaluate(d):
        return []
    reasons = []
    if w.languages and d.lang not in {c.lower() for c in w.languages}:
        reasons.append(f"language {d.lang!r} is not one of {', '.join(w.languages)}")
    include, exclude = w.sources.get("include", []), w.sources.get("exclude", [])
    if include and not any(d.from_source(x.lower()) for x in include):
        reasons.append(
            f"source {', '.join(d.sources) or '(none)'} is not one of {', '.join(include)}"
        )
    if exclude and any(d.from_source(x.lower()) for x in exclude):
        reasons.append(f"source {', '.join(d.sources)} is excluded")
    if _explain(compiled.query.root, d, w.min_salience) is None:
        reasons.append(
            "the query is false on this article: "
            + "; ".join(_leaf_states(compiled.query.root, d, w))
        )
    return reasons


def _leaf_states(node: Node, d: _Doc, w: Watchlist, negated: bool = False) -> list[str]:
    """Describe each clause's state on ``d`` ("putin found", "NOT sport found (excludes)")."""
    if isinstance(node, And | Or):
        return [s for c in node.children for s in _leaf_states(c, d, w, negated)]
    if isinstance(node, Not):
        return _leaf_states(node.child, d, w, not negated)
    if isinstance(node, Near):
        states = _leaf_states(node.left, d, w, negated) + _leaf_states(node.right, d, w, negated)
        if not d.near(node, _near_field(node), w.min_salience):
            states.append(f"NEAR/{node.distance} at position {node.position} not satisfied")
        return states
    ok = _build(node, w.min_salience)(d)
    name = node.raw if isinstance(node, Words | Prefix) else _leaf_name(node)
    if isinstance(node, Words | Prefix) and node.field != "any":
        name = f"{node.field}:{name}"
    if negated:
        return [f"NOT {name} {'found (excludes the article)' if ok else 'absent'}"]
    return [f"{name} {'found' if ok else 'absent'}"]


def _leaf_name(leaf: Node) -> str:
    if isinstance(leaf, EntityRef):
        return f"entity:{leaf.id}" + (f" ({leaf.value})" if leaf.value != leaf.id else "")
    if isinstance(leaf, Lang):
        return f"lang:{leaf.code}"
    if isinstance(leaf, Source):
        return f"source:{leaf.domain}"
    return str(leaf)


def _by_primary(pairs: Iterable[Pair]) -> dict[str, frozenset[str]]:
    """Group a watchlist's key pairs by primary key: the second keys are alternatives."""
    out: dict[str, set[str]] = {}
    for key, key2 in pairs:
        out.setdefault(key, set()).add(key2)
    return {key: frozenset(seconds) for key, seconds in out.items()}


def _bigram_parts(key: str, key2: str) -> tuple[str, str]:
    """Return the word of bigram key ``key2`` other than primary ``key``, and its pattern."""
    first, second = key2[len(_BIG) :].split(" ")
    return (second if first == key else first), f" {first} {second} "


def _discard(table: dict[str, Any], path: tuple[str, ...], wid: str) -> None:
    """Remove ``wid`` from the id set at ``path`` in nested dicts, dropping emptied levels."""
    head, *rest = path
    sub = table.get(head)
    if sub is None:
        return
    if rest:
        _discard(sub, tuple(rest), wid)
    else:
        sub.discard(wid)
    if not sub:
        del table[head]


# --- the monitor ------------------------------------------------------------------------


class Monitor:
    """All watchlists, compiled once; ``match`` evaluates only the presearch candidates.

    Watchlists whose query is refused when the monitor is built (say an entity that left
    the knowledge base) are skipped and listed in ``errors``; ``add``/``update`` raise.
    """

    def __init__(
        self, watchlists: Iterable[Watchlist] = (), kb: EntityLookup | None = None
    ) -> None:
        self.kb = kb
        self.errors: dict[str, QueryError] = {}
        self._compiled: dict[str, CompiledWatchlist] = {}
        # Evaluators of the enabled watchlists, and the presearch index over them.
        self._evaluators: dict[str, Evaluator] = {}
        # Every primary key: the article's keys are looked up in this one large set (a set
        # probes less memory than a dict), the three tables below only with those found.
        self._primaries: set[str] = set()
        self._single: dict[str, set[str]] = {}  # primary key -> ids (no second key)
        self._double: dict[str, dict[str, set[str]]] = {}  # primary -> second key -> ids
        # primary -> other word of the bigram -> " a b " -> ids
        self._bigrams: dict[str, dict[str, dict[str, set[str]]]] = {}
        for w in watchlists:
            try:
                self.add(w)
            except QueryError as exc:
                self.errors[w.id] = exc

    @property
    def watchlists(self) -> dict[str, Watchlist]:
        return {i: c.watchlist for i, c in self._compiled.items()}

    def __len__(self) -> int:
        return len(self._compiled)

    def __contains__(self, watchlist_id: object) -> bool:
        return watchlist_id in self._compiled

    def get(self, watchlist_id: str) -> CompiledWatchlist | None:
        return self._compiled.get(watchlist_id)

    def add(self, watchlist: Watchlist | CompiledWatchlist) -> CompiledWatchlist:
        """Compile (unless already compiled) and index ``watchlist``, replacing one with the same id."""
        compiled = (
            watchlist
            if isinstance(watchlist, CompiledWatchlist)
            else compile_watchlist(watchlist, self.kb)
        )
        wid = compiled.watchlist.id
        self.remove(wid)
        self._compiled[wid] = compiled
        self.errors.pop(wid, None)
        if compiled.watchlist.enabled:
            self._evaluators[wid] = compiled.evaluate
            for key, seconds in _by_primary(compiled.keys).items():
                self._index_add(key, seconds, wid)
        return compiled

    update = add

    def remove(self, watchlist_id: str) -> bool:
        """Drop ``watchlist_id`` from the monitor; return whether it was there."""
        old = self._compiled.pop(watchlist_id, None)
        if old is None:
            return False
        if self._evaluators.pop(watchlist_id, None) is not None:
            for key, seconds in _by_primary(old.keys).items():
                self._index_remove(key, seconds, watchlist_id)
        return True

    # Unconditional primary keys list their watchlists in ``_single``; the others sit
    # under each of their second keys in ``_double`` (word, entity and prefix keys: set
    # intersections) or ``_bigrams`` (adjacent words: one substring test per distinct
    # bigram, however many watchlists share it). Evaluating a watchlist costs more than the
    # second-level intersection, even for a primary key with one watchlist.

    def _index_add(self, key: str, seconds: frozenset[str], wid: str) -> None:
        self._primaries.add(key)
        if "" in seconds:
            self._single.setdefault(key, set()).add(wid)
            return
        for key2 in seconds:
            if key2.startswith(_BIG):
                other, pattern = _bigram_parts(key, key2)
                by_other = self._bigrams.setdefault(key, {}).setdefault(other, {})
                by_other.setdefault(pattern, set()).add(wid)
            else:
                self._double.setdefault(key, {}).setdefault(key2, set()).add(wid)

    def _index_remove(self, key: str, seconds: frozenset[str], wid: str) -> None:
        if "" in seconds:
            _discard(self._single, (key,), wid)
        for key2 in seconds - {""}:
            if key2.startswith(_BIG):
                other, pattern = _bigram_parts(key, key2)
                _discard(self._bigrams, (key, other, pattern), wid)
            else:
                _discard(self._double, (key, key2), wid)
        if key not in self._single and key not in self._double and key not in self._bigrams:
            self._primaries.discard(key)

    def _candidates(self, d: _Doc) -> set[str]:
        # Set intersections and chain/map run in C: no bytecode per rejected watchlist,
        # and only one per primary key that has second keys, or per bigram.
        keys, single, double = d.keys, self._single, self._double
        present = self._primaries & keys
        out = set(chain.from_iterable(map(single.__getitem__, single.keys() & present)))
        for key in double.keys() & present:
            sub = double[key]
            out.update(chain.from_iterable(map(sub.__getitem__, sub.keys() & keys)))
        # Bigrams: only those whose two words both occur are looked for in the text.
        bigrams, jt, jh = self._bigrams, d.JT, d.JH
        for key in bigrams.keys() & present:
            sub2 = bigrams[key]
            for other in sub2.keys() & keys:
                for pattern, ids in sub2[other].items():
                    if pattern in jt or pattern in jh:
                        out.update(ids)
        return out

    def candidates(self, record: EnrichedRecord) -> set[str]:
        """Return the ids of the watchlists the presearch index would evaluate on ``record``."""
        return self._candidates(_Doc(record))

    def _hits(self, d: _Doc, matched: list[str]) -> list[WatchlistHit]:
        matched.sort()
        out = []
        for wid in matched:
            c = self._compiled[wid]
            matches = _explain(c.query.root, d, c.watchlist.min_salience) or []
            out.append(WatchlistHit(watchlist=c.watchlist, matches=matches))
        return out

    def match(self, record: EnrichedRecord) -> list[WatchlistHit]:
        """Return the enabled watchlists ``record`` matches, sorted by id, each with its matches."""
        d = _Doc(record)
        evaluators = self._evaluators
        return self._hits(d, [wid for wid in self._candidates(d) if evaluators[wid](d)])

    def match_bruteforce(self, record: EnrichedRecord) -> list[WatchlistHit]:
        """Evaluate every enabled watchlist on ``record`` (the reference the presearch must agree with)."""
        d = _Doc(record)
        return self._hits(d, [wid for wid, evaluate in self._evaluators.items() if evaluate(d)])

    def match_phases(self, record: EnrichedRecord) -> dict[str, float]:
        """Run ``match`` phase by phase; return each phase's thread CPU time in ms (for the benchmark).

        ``analysis`` (the article's tokens and keys), ``presearch`` (the candidates),
        ``evaluate`` (their evaluators), ``explain`` (the matches of the hits).
        """
        clock = time.thread_time_ns
        t0 = clock()
        d = _Doc(record)
        t1 = clock()
        candidates = self._candidates(d)
        t2 = clock()
        evaluators = self._evaluators
        matched = [wid for wid in candidates if evaluators[wid](d)]
        t3 = clock()
        self._hits(d, matched)
        t4 = clock()
        names = ("analysis", "presearch", "evaluate", "explain")
        return {
            n: (b - a) / 1e6
            for n, a, b in zip(names, (t0, t1, t2, t3), (t1, t2, t3, t4), strict=True)
        }
