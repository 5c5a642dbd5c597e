"""The watchlist query language: text analysis, parser, entity resolution and cost limits.

``compile_query(text, kb)`` turns a query such as
``entity:"Kim Jong Un" AND (missile* OR "nuclear test") AND NOT title:sport`` into an
abstract syntax tree of frozen nodes, or raises ``QueryError`` with the 0-based
``position`` of the problem and what was expected there. The grammar (lowest precedence
first; adjacent clauses are joined by an implicit AND)::

    query    := or_expr EOF
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := not_expr (["AND"] not_expr)*
    not_expr := "NOT" not_expr | near
    near     := primary ["NEAR" ["/" n] primary]
    primary  := "(" or_expr ")" | WORD | PREFIX* | "PHRASE"
              | ("title:" | "text:") primary
              | "entity:" (ID | "Name") | "lang:" CODE | "source:" DOMAIN

Words and phrases are analysed exactly like article text (``tokenize``): split on
non-word characters, case and diacritics folded, so ``Jong-un`` is the phrase
``jong un`` and ``Müller`` matches ``MULLER``. Why refuse expensive queries here: the
matcher evaluates every query an article can satisfy on every article, so one
pathological watchlist (``a*``, a bare ``NOT``, thousands of clauses) would tax the
whole stream; refusing it when applied keeps matching cost bounded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from pipeline.entities.kb import EntityEntry
from pipeline.errors import QueryError

__all__ = [
    "MAX_CLAUSES",
    "MAX_DEPTH",
    "MAX_NEAR",
    "MAX_PHRASE_WORDS",
    "MAX_QUERY_CHARS",
    "MIN_PREFIX",
    "And",
    "EntityLookup",
    "EntityRef",
    "Field",
    "Lang",
    "Near",
    "Node",
    "Not",
    "Or",
    "Prefix",
    "Query",
    "Source",
    "Words",
    "compile_query",
    "fold",
    "fold_exact",
    "fold_offsets",
    "leaves",
    "parse",
    "token_spans",
    "tokenize",
]

MAX_QUERY_CHARS = 8192  # longer than any hand-written query; bounds parse time
MAX_CLAUSES = (
    256  # leaf clauses per query (Lucene's default limit is 1024 for much cheaper clauses)
)
MAX_DEPTH = 16  # nested parentheses / NOTs; also keeps the recursive parser far from Python's limit
MIN_PREFIX = 3  # characters before '*': 'a*' would be a candidate for every article
MAX_PHRASE_WORDS = 32
MAX_NEAR = 100  # NEAR/n distance in words
DEFAULT_NEAR = 10
# Ids the tagger gives names that are not in the knowledge base (``x:kim-jong-un``):
# deterministic, so watching one is meaningful although no entry declares it.
UNLINKED_PREFIX = "x:"

Field = Literal["any", "text", "title"]

# --- text analysis ----------------------------------------------------------------------

# CJK ideographs and kana carry no spaces between words: each character is a token, so a
# quoted CJK name becomes a phrase of characters.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_IS_CJK = re.compile(rf"[{_CJK}]")
_TOKEN = re.compile(r"\S+")
_ASCII = frozenset(map(chr, range(128)))
_BYTE_SEPARATORS = bytes(
    32 if i < 128 and not (chr(i).isalnum() or chr(i) == "_" or chr(i).isspace()) else i
    for i in range(256)
)
_ASCII_BYTES = bytes(range(128))
# Letters that carry no Unicode decomposition but that readers treat as their base letter.
_EXTRA_FOLD = {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe"}
# Folded form of every non-ASCII character seen so far, filled lazily.
_PIECES: dict[str, str] = {}
# The same as a str.translate table; ASCII maps to itself so lookups never miss.
_TABLE: dict[int, str | int] = {i: i for i in range(128)}
# Above this many non-ASCII characters that change, one translate pass beats a replace each.
_REPLACE_LIMIT = 40


# Non-ASCII characters known to fold to themselves (most letters of most scripts), and a
# pattern matching every other non-ASCII character. It grows with the scripts seen, up to
# ``_SAME_LIMIT`` characters so hostile input cannot make it recompile without end.
_SAME: set[str] = set()
_SAME_LIMIT = 8192
_NOT_SAME = re.compile("[^\x00-\x7f]")


def _learn_same(chars: list[str]) -> None:
    global _NOT_SAME
    _SAME.update(chars)
    _NOT_SAME = re.compile("[^\x00-\x7f" + "".join(map(re.escape, sorted(_SAME))) + "]")


def _fold_char(char: str) -> str:
    low = "".join(_EXTRA_FOLD.get(c, c) for c in char.casefold())
    out = []
    for c in unicodedata.normalize("NFKD", low):
        if unicodedata.combining(c):
            continue  # diacritics
        if unicodedata.category(c) == "Cf":
            continue  # zero-width (non-)joiners, soft hyphens: cleaned text has none either
        if c.isalnum() or c == "_" or unicodedata.category(c)[0] == "M":
            out.append(c)  # word characters, and spacing vowel signs of Indic scripts
        else:
            out.append(" ")  # punctuation, symbols and spaces separate words
    return "".join(out)


def _piece(char: str) -> str:
    """Fold one non-ASCII character: case fold, decompose, drop diacritics, punctuation -> space.

    Folded again until stable, so every character of a piece folds to itself and
    replacing characters one by one cannot depend on the order.
    """
    piece = _PIECES.get(char)
    if piece is None:
        piece = _fold_char(char)
        for _ in range(3):
            again = "".join(_fold_char(c) for c in piece)
            if again == piece:
                break
            piece = again
        if _IS_CJK.fullmatch(char):
            piece = f" {char} "
        elif piece.isspace():
            piece = " "  # "…" is one separator, not three: offsets stay put
        _PIECES[char] = piece
        _TABLE[ord(char)] = piece
    return piece


def _fold_len(char: str) -> int:
    """Return ``len(fold(char))`` without the whole-text machinery."""
    return sum(1 if c.isascii() else len(_piece(c)) for c in char.lower())


def fold_exact(text: str) -> tuple[str, bool]:
    """Return ``fold(text)`` and whether every character folded to exactly one (offsets unchanged).

    Folding is per character and avoids Python loops over the text: ASCII separators
    become spaces with one ``bytes.translate`` over the UTF-8 encoding (bytes of
    multi-byte characters are all >= 0x80 and left alone), and each *distinct* non-ASCII
    character, found by deleting the ASCII bytes, is replaced by its cached piece.
    """
    lowered = text.lower()
    same_length = len(lowered) == len(text)
    raw = lowered.encode("utf-8", "surrogatepass")
    low = raw.translate(_BYTE_SEPARATORS).decode("utf-8", "surrogatepass")
    if len(low) == len(raw):
        return low, same_length
    nonascii = raw.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
    # Only characters not yet known to fold to themselves (a regex scan skips the known
    # ones at a quarter of the cost of ``set()`` over every character of a script).
    chars = set(_NOT_SAME.findall(nonascii))
    pieces = {c: _piece(c) for c in chars}  # fills the translate table for every one
    if (learnt := [c for c, p in pieces.items() if p == c]) and len(_SAME) < _SAME_LIMIT:
        _learn_same(learnt)
    exact = same_length and all(len(p) == 1 for p in pieces.values())
    # Most letters of most scripts fold to themselves: only the others need a pass.
    changed = [(char, piece) for char, piece in pieces.items() if piece != char]
    if len(changed) > _REPLACE_LIMIT:  # Chinese, Japanese...: one translate pass instead
        return low.translate(_TABLE), exact
    for char, piece in changed:
        low = low.replace(char, piece)
    return low, exact


def fold(text: str) -> str:
    """Return ``text`` in analysis form: lower case, no diacritics, separators as spaces.

    ``fold("Kim Jong-un, Müller")`` is ``"kim jong un  muller"``; its ``split()`` is the
    token list (``tokenize``).
    """
    return fold_exact(text)[0]


def tokenize(text: str) -> list[str]:
    """Return the folded word tokens of ``text`` (the analysis shared by queries and articles)."""
    return fold(text).split()


def fold_offsets(text: str, folded: tuple[str, bool] | None = None) -> tuple[str, list[int] | None]:
    """Return ``fold(text)`` and, unless offsets are unchanged, each folded offset's offset in ``text``.

    The map has ``len(folded) + 1`` entries (the last is ``len(text)``); ``None`` means every
    character folded to exactly one, the usual case, so folded offsets are text offsets.
    ``folded`` is ``fold_exact(text)`` when the caller already has it.
    """
    result, exact = folded if folded is not None else fold_exact(text)
    if exact:
        return result, None
    odd = {c: n for c in set(text) - _ASCII if (n := _fold_len(c)) != 1}
    # A contiguous range between two characters that folded to zero or several at a time.
    origin: list[int] = []
    last = 0
    for m in re.finditer("[" + re.escape("".join(odd)) + "]", text) if odd else ():
        origin.extend(range(last, m.start()))
        origin.extend([m.start()] * odd[m.group()])
        last = m.end()
    origin.extend(range(last, len(text)))
    origin.append(len(text))
    if len(origin) != len(result) + 1:  # a context-dependent case mapping; spans approximate
        origin = [
            min(round(j * len(text) / max(1, len(result))), len(text))
            for j in range(len(result) + 1)
        ]
    return result, origin


def token_spans(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Return the tokens of ``text`` (exactly as ``tokenize``) with their ``[start, end)`` spans in ``text``."""
    folded, origin = fold_offsets(text)
    words = folded.split()
    if origin is None:
        spans = [m.span() for m in _TOKEN.finditer(folded)]
    else:
        spans = [(origin[m.start()], origin[m.end() - 1] + 1) for m in _TOKEN.finditer(folded)]
    return words, spans


# --- syntax tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """A word (one token) or a phrase (consecutive tokens) in ``field``."""

    tokens: tuple[str, ...]
    field: Field
    raw: str
    position: int


@dataclass(frozen=True)
class Prefix:
    """Any token starting with ``prefix`` (``sanction*``)."""

    prefix: str
    field: Field
    raw: str
    position: int


@dataclass(frozen=True)
class EntityRef:
    """An entity the article must mention; ``id`` is set once resolved against the knowledge base."""

    value: str
    quoted: bool
    position: int
    id: str | None = None


@dataclass(frozen=True)
class Lang:
    code: str
    position: int


@dataclass(frozen=True)
class Source:
    """The article's source or URL host is ``domain`` or one of its subdomains."""

    domain: str
    position: int


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Near:
    """Both operands occur with at most ``distance`` words between them, in either order."""

    left: Node
    right: Node
    distance: int
    position: int


Node = Words | Prefix | EntityRef | Lang | Source | And | Or | Not | Near
Positional = (Words, Prefix, EntityRef)


@dataclass(frozen=True)
class Query:
    """A parsed, resolved and cost-checked query."""

    text: str
    root: Node
    clauses: int


class EntityLookup(Protocol):
    """What the compiler needs from the knowledge base: names to entries."""

    def lookup(self, name: str) -> list[EntityEntry]: ...


# --- lexer ------------------------------------------------------------------------------

_FIELDS = ("title", "text", "entity", "lang", "source")
_FIELD_RE = re.compile(r"([A-Za-z]+):")
_NEAR_RE = re.compile(r"NEAR(?:/(\d+))?")
_LANG_RE = re.compile(r"[a-z]{2,3}")


@dataclass(frozen=True)
class _Tok:
    kind: str  # LP RP WORD PHRASE AND OR NOT NEAR FIELD
    value: str
    position: int
    distance: int = 0


def _describe(tok: _Tok | None) -> str:
    if tok is None:
        return "the end of the query"
    if tok.kind in ("LP", "RP"):
        return f"'{tok.value}'"
    if tok.kind == "PHRASE":
        return f'the phrase "{tok.value}"'
    if tok.kind == "FIELD":
        return f"'{tok.value}:'"
    if tok.kind == "WORD":
        return f"the word '{tok.value}'"
    return tok.value


def _lex(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            toks.append(_Tok("LP" if c == "(" else "RP", c, i))
            i += 1
        elif c == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= n:
                raise QueryError(
                    f"position {i}: unterminated phrase; expected a closing '\"'", position=i
                )
            toks.append(_Tok("PHRASE", "".join(buf), i))
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '()"':
                j += 1
            toks.extend(_lex_word(text, i, j))
            i = j
    return toks


def _lex_word(text: str, i: int, j: int) -> list[_Tok]:
    word = text[i:j]
    if word in ("AND", "OR", "NOT"):
        return [_Tok(word, word, i)]
    if word.startswith("NEAR"):
        m = _NEAR_RE.fullmatch(word)
        if m is None:
            raise QueryError(
                f"position {i}: expected NEAR or NEAR/n with a number n, found '{word}'", position=i
            )
        distance = int(m.group(1)) if m.group(1) is not None else DEFAULT_NEAR
        if not 1 <= distance <= MAX_NEAR:
            raise QueryError(
                f"position {i}: NEAR/{m.group(1)} is out of range; expected a distance from 1 to {MAX_NEAR} "
                '(for adjacent words use a "quoted phrase")',
                position=i,
            )
        return [_Tok("NEAR", word, i, distance)]
    m = _FIELD_RE.match(word)
    if m is None:
        return [_Tok("WORD", word, i)]
    name = m.group(1).lower()
    if name not in _FIELDS:
        raise QueryError(
            f"position {i}: unknown field '{m.group(1)}:'; expected one of "
            + ", ".join(f"{f}:" for f in _FIELDS)
            + " (quote the text to search for it literally)",
            position=i,
        )
    out = [_Tok("FIELD", name, i)]
    rest = word[m.end() :]
    if rest:
        out.append(_Tok("WORD", rest, i + m.end()))
    elif j >= len(text) or text[j] not in '("':
        raise QueryError(f"position {j}: expected a value right after '{name}:'", position=j)
    return out


# --- parser -----------------------------------------------------------------------------

_STARTS_PRIMARY = ("LP", "WORD", "PHRASE", "FIELD", "NOT")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _lex(text)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok | None:
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, tok: _Tok | None, expected: str) -> QueryError:
        pos = tok.position if tok is not None else len(self.text)
        return QueryError(
            f"position {pos}: expected {expected}, found {_describe(tok)}", position=pos
        )

    def parse(self) -> Node:
        if not self.toks:
            raise QueryError(
                "position 0: empty query; expected a word, phrase or entity", position=0
            )
        node = self.or_expr(0, "any")
        tok = self.peek()
        if tok is not None:
            if tok.kind == "RP":
                raise QueryError(
                    f"position {tok.position}: unbalanced ')' with no '(' to close",
                    position=tok.position,
                )
            raise self.fail(tok, "AND, OR or the end of the query")
        return node

    def or_expr(self, depth: int, field: Field) -> Node:
        children = [self.and_expr(depth, field)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            children.append(self.and_expr(depth, field))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self, depth: int, field: Field) -> Node:
        children = [self.not_expr(depth, field)]
        while (tok := self.peek()) is not None and (
            tok.kind == "AND" or tok.kind in _STARTS_PRIMARY
        ):
            if tok.kind == "AND":
                self.take()
            children.append(self.not_expr(depth, field))
        return children[0] if len(children) == 1 else And(tuple(children))

    def not_expr(self, depth: int, field: Field) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind == "NOT":
            self.take()
            self.check_depth(depth + 1, tok)
            return Not(self.not_expr(depth + 1, field))
        return self.near(depth, field)

    def near(self, depth: int, field: Field) -> Node:
        left = self.primary(depth, field)
        tok = self.peek()
        if tok is None or tok.kind != "NEAR":
            return left
        self.take()
        right = self.primary(depth, field)
        for side in (left, right):
            if not _is_positional(side):
                raise QueryError(
                    f"position {tok.position}: NEAR needs a word, phrase, prefix*, entity or a "
                    "parenthesised OR of them on each side",
                    position=tok.position,
                )
        scopes = {
            leaf.field
            for leaf in _side_leaves(left) + _side_leaves(right)
            if isinstance(leaf, Words | Prefix)
        }
        if any(isinstance(leaf, EntityRef) for leaf in _side_leaves(left) + _side_leaves(right)):
            scopes.add("text")  # entity mentions are spans into the text
        scopes.discard("any")
        if len(scopes) > 1:
            raise QueryError(
                f"position {tok.position}: NEAR compares positions within one field; "
                "expected both sides in title: or both in text:",
                position=tok.position,
            )
        after = self.peek()
        if after is not None and after.kind == "NEAR":
            raise QueryError(
                f"position {after.position}: NEAR cannot be chained; combine two NEAR clauses with AND",
                position=after.position,
            )
        return Near(left, right, tok.distance, tok.position)

    def check_depth(self, depth: int, tok: _Tok) -> None:
        if depth > MAX_DEPTH:
            raise QueryError(
                f"position {tok.position}: query nests deeper than {MAX_DEPTH} levels; too expensive",
                position=tok.position,
                reason="query_too_expensive",
            )

    def primary(self, depth: int, field: Field) -> Node:
        tok = self.take()
        if tok is None or tok.kind in ("RP", "AND", "OR", "NEAR", "NOT"):
            raise self.fail(tok, "a word, phrase, field or '('")
        if tok.kind == "LP":
            self.check_depth(depth + 1, tok)
            if (nxt := self.peek()) is not None and nxt.kind == "RP":
                raise QueryError(
                    f"position {tok.position}: empty parentheses", position=tok.position
                )
            node = self.or_expr(depth + 1, field)
            close = self.take()
            if close is None or close.kind != "RP":
                raise self.fail(close, f"')' to close the '(' at position {tok.position}")
            return node
        if tok.kind == "WORD":
            return _word(tok, field)
        if tok.kind == "PHRASE":
            return _phrase(tok, field)
        return self.field(tok, depth, field)

    def field(self, tok: _Tok, depth: int, field: Field) -> Node:
        name = tok.value
        if field != "any":
            raise QueryError(
                f"position {tok.position}: '{name}:' cannot be used inside '{field}:'",
                position=tok.position,
            )
        if name in ("title", "text"):
            nxt = self.peek()
            if nxt is None or nxt.kind not in ("WORD", "PHRASE", "LP"):
                raise self.fail(nxt, f"a word, phrase or '(' after '{name}:'")
            return self.primary(depth, "title" if name == "title" else "text")
        value = self.take()
        if value is None or value.kind not in ("WORD", "PHRASE"):
            raise self.fail(value, f"a value after '{name}:'")
        if name == "entity":
            if not value.value.strip():
                raise QueryError(
                    f"position {value.position}: empty entity name", position=value.position
                )
            return EntityRef(value.value.strip(), value.kind == "PHRASE", tok.position)
        if name == "lang":
            code = value.value.lower()
            if not _LANG_RE.fullmatch(code):
                raise QueryError(
                    f"position {value.position}: expected an ISO 639-1 language code after 'lang:' (like en), "
                    f"found '{value.value}'",
                    position=value.position,
                )
            return Lang(code, tok.position)
        domain = value.value.strip().lower().removeprefix("www.").strip(".")
        if not domain or any(c.isspace() or c == "/" for c in domain):
            raise QueryError(
                f"position {value.position}: expected a domain after 'source:' (like reuters.com), "
                f"found '{value.value}'",
                position=value.position,
            )
        return Source(domain, tok.position)


def _is_positional(node: Node) -> bool:
    if isinstance(node, Positional):
        return True
    return isinstance(node, Or) and all(isinstance(c, Positional) for c in node.children)


def _side_leaves(node: Node) -> list[Node]:
    return list(node.children) if isinstance(node, Or) else [node]


def _word(tok: _Tok, field: Field) -> Node:
    raw, pos = tok.value, tok.position
    if "*" not in raw:
        tokens = tokenize(raw)
        if not tokens:
            raise QueryError(
                f"position {pos}: '{raw}' has no letters or digits to search for", position=pos
            )
        if len(tokens) > MAX_PHRASE_WORDS:
            raise QueryError(
                f"position {pos}: more than {MAX_PHRASE_WORDS} words in one term", position=pos
            )
        return Words(tuple(tokens), field, raw, pos)
    if raw.startswith("*"):
        raise QueryError(
            f"position {pos}: leading wildcards are not supported; expected a word before '*'",
            position=pos,
        )
    star = raw.index("*")
    if star != len(raw) - 1:
        raise QueryError(
            f"position {pos + star}: a wildcard '*' is only allowed once, at the end of a word",
            position=pos + star,
        )
    tokens = tokenize(raw[:-1])
    if len(tokens) != 1:
        raise QueryError(
            f"position {pos}: a wildcard must follow a single word, found '{raw}'", position=pos
        )
    if len(tokens[0]) < MIN_PREFIX:
        raise QueryError(
            f"position {pos}: prefix '{raw}' is too short and would match almost every article; "
            f"expected at least {MIN_PREFIX} letters before '*'",
            position=pos,
            reason="query_too_expensive",
        )
    return Prefix(tokens[0], field, raw, pos)


def _phrase(tok: _Tok, field: Field) -> Node:
    tokens = tokenize(tok.value)
    if not tokens:
        raise QueryError(
            f"position {tok.position}: empty phrase; expected words between the quotes",
            position=tok.position,
        )
    if len(tokens) > MAX_PHRASE_WORDS:
        raise QueryError(
            f"position {tok.position}: phrase longer than {MAX_PHRASE_WORDS} words",
            position=tok.position,
        )
    return Words(tuple(tokens), field, f'"{tok.value}"', tok.position)


def parse(text: str) -> Node:
    """Parse ``text`` into a syntax tree (entities unresolved); raise ``QueryError`` with a position."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            f"position {MAX_QUERY_CHARS}: query is longer than {MAX_QUERY_CHARS} characters; too expensive",
            position=MAX_QUERY_CHARS,
            reason="query_too_expensive",
        )
    return _Parser(text).parse()


# --- resolution and cost ----------------------------------------------------------------


def leaves(node: Node) -> list[Node]:
    """Return the leaf clauses of ``node`` in query order."""
    if isinstance(node, And | Or):
        return [leaf for c in node.children for leaf in leaves(c)]
    if isinstance(node, Not):
        return leaves(node.child)
    if isinstance(node, Near):
        return leaves(node.left) + leaves(node.right)
    return [node]


def _has_id(kb: object, value: str) -> bool:
    entries = getattr(kb, "entries", None)
    if isinstance(entries, dict):
        return value in entries
    get = getattr(kb, "get", None)
    return callable(get) and get(value) is not None


def _hint(name: str, kb: EntityLookup) -> str:
    """Say which ids could be meant: close knowledge-base names, and the unlinked id.

    A name outside the knowledge base is tagged ``x:<slug>`` in every article (the
    learned name registry may join its variants to it), so ``entity:x:<slug>``
    follows it; declaring it in the watchlist file links it under an id of one's own.
    """
    from pipeline.entities.stream import key_of
    from pipeline.entities.tagging import unlinked_id

    words = [w for w in key_of(name).split() if w not in (",", "|")]
    parts = []
    suggest = getattr(kb, "suggest", None)
    close = suggest(name) if callable(suggest) else []
    if close:
        parts.append("did you mean " + ", ".join(f"{e.id} ({e.name}, {e.type})" for e in close))
    if words:
        parts.append(
            f"articles tag the name as {unlinked_id(words)}: use entity:{unlinked_id(words)}, "
            "or declare it under entities: in the watchlist file"
        )
    return "; ".join(parts) or "declare it under entities: in the watchlist file"


def _resolve_entity(ref: EntityRef, kb: EntityLookup | None) -> EntityRef:
    if kb is None:
        if ref.quoted:
            raise QueryError(
                f'position {ref.position}: entity:"{ref.value}" needs a knowledge base to resolve the name',
                position=ref.position,
                reason="unknown_entity",
            )
        return replace(ref, id=ref.value)
    if not ref.quoted and (ref.value.startswith(UNLINKED_PREFIX) or _has_id(kb, ref.value)):
        return replace(ref, id=ref.value)
    found: dict[str, EntityEntry] = {}
    for entry in kb.lookup(ref.value):
        found.setdefault(entry.id, entry)
    if len(found) == 1:
        return replace(ref, id=next(iter(found)))
    if not found:
        raise QueryError(
            f"position {ref.position}: unknown entity '{ref.value}': no knowledge-base id or name "
            f"matches; {_hint(ref.value, kb)}",
            position=ref.position,
            reason="unknown_entity",
        )
    choices = ", ".join(f"{e.id} ({e.name}, {e.type})" for e in list(found.values())[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    raise QueryError(
        f"position {ref.position}: entity '{ref.value}' is ambiguous: {choices}{more}; use entity:<id>",
        position=ref.position,
        reason="ambiguous_entity",
    )


def _resolve(node: Node, kb: EntityLookup | None) -> Node:
    if isinstance(node, EntityRef):
        return _resolve_entity(node, kb)
    if isinstance(node, And):
        return And(tuple(_resolve(c, kb) for c in node.children))
    if isinstance(node, Or):
        return Or(tuple(_resolve(c, kb) for c in node.children))
    if isinstance(node, Not):
        return Not(_resolve(node.child, kb))
    if isinstance(node, Near):
        return replace(node, left=_resolve(node.left, kb), right=_resolve(node.right, kb))
    return node


def _has_positive(node: Node) -> bool:
    """Whether every way ``node`` can match needs some word, phrase, prefix or entity present."""
    if isinstance(node, Words | Prefix | EntityRef | Near):
        return True
    if isinstance(node, And):
        return any(_has_positive(c) for c in node.children)
    if isinstance(node, Or):
        return all(_has_positive(c) for c in node.children)
    return False  # Not, Lang, Source


def compile_query(text: str, kb: EntityLookup | None = None) -> Query:
    """Parse, resolve entities through ``kb`` and refuse pathologically expensive queries.

    Raises ``QueryError`` (``position`` set) when the query does not parse, names an unknown
    or ambiguous entity, or would be too expensive to evaluate on every article.
    """
    root = _resolve(parse(text), kb)
    count = len(leaves(root))
    if count > MAX_CLAUSES:
        raise QueryError(
            f"position 0: query has {count} clauses, more than {MAX_CLAUSES}; too expensive "
            "(split it into several watchlists)",
            position=0,
            reason="query_too_expensive",
        )
    if not _has_positive(root):
        raise QueryError(
            "position 0: every alternative of the query needs a word, phrase, prefix* or entity: "
            "NOT, lang: and source: alone would be evaluated against every article; too expensive",
            position=0,
            reason="query_too_expensive",
        )
    return Query(text=text, root=root, clauses=count)
