"""The watchlist query language: parsing, folding, entity resolution, refusals with positions."""

from __future__ import annotations

import pytest

from pipeline.entities.kb import EntityEntry
from pipeline.errors import QueryError
from pipeline.query import (
    MAX_CLAUSES,
    MAX_QUERY_CHARS,
    And,
    EntityRef,
    Lang,
    Near,
    Not,
    Or,
    Prefix,
    Source,
    Words,
    compile_query,
    fold,
    leaves,
    parse,
    token_spans,
    tokenize,
)


class Names:
    """A small knowledge-base stand-in: exact folded name/alias lookup over entries."""

    def __init__(self, entries: list[EntityEntry]) -> None:
        self.entries = {e.id: e for e in entries}

    def lookup(self, name: str) -> list[EntityEntry]:
        key = " ".join(tokenize(name))
        return [
            e
            for e in self.entries.values()
            if key in {" ".join(tokenize(n)) for n in [e.name, *e.aliases]}
        ]


KB = Names(
    [
        EntityEntry(id="kp-kim", name="Kim Jong Un", type="PERSON", aliases=["Kim Jong-un"]),
        EntityEntry(id="kp-kim-yo", name="Kim Yo Jong", type="PERSON", aliases=["Kim"]),
        EntityEntry(id="kr-kim", name="Kim Dae-jung", type="PERSON", aliases=["Kim"]),
        EntityEntry(id="ru-putin", name="Vladimir Putin", type="PERSON"),
    ]
)


def error_of(query: str, kb: Names | None = None) -> QueryError:
    with pytest.raises(QueryError) as info:
        compile_query(query, kb)
    return info.value


# --- analysis ---------------------------------------------------------------------------


def test_fold_removes_case_and_diacritics() -> None:
    assert tokenize("Müller İSTANBUL São Paulo Ørsted Straße") == [
        "muller",
        "istanbul",
        "sao",
        "paulo",
        "orsted",
        "strasse",
    ]


def test_fold_treats_punctuation_as_separators() -> None:
    assert tokenize("Kim Jong-un’s “plan”, 2022.") == ["kim", "jong", "un", "s", "plan", "2022"]
    assert fold("a\u00a0b").split() == ["a", "b"]


def test_cjk_characters_are_single_tokens() -> None:
    assert tokenize("北京市 Tokyo") == ["北", "京", "市", "tokyo"]


def test_token_spans_point_into_the_original_text() -> None:
    text = "İstanbul, Straße — nai\u0308ve Köln 北京"
    words, spans = token_spans(text)
    assert words == tokenize(text)
    assert [text[a:b] for a, b in spans] == [
        "İstanbul",
        "Straße",
        "nai\u0308ve",
        "Köln",
        "北",
        "京",
    ]


# --- grammar ----------------------------------------------------------------------------


def test_adjacent_terms_are_an_implicit_and() -> None:
    root = parse("putin sanctions")
    assert isinstance(root, And)
    assert [c.tokens for c in root.children if isinstance(c, Words)] == [("putin",), ("sanctions",)]


def test_and_binds_tighter_than_or() -> None:
    root = parse("a OR b AND c")
    assert isinstance(root, Or)
    assert isinstance(root.children[1], And)


def test_not_near_parentheses_and_fields() -> None:
    root = parse('title:(missile* OR "nuclear test") AND NOT text:sport')
    assert isinstance(root, And)
    scoped, negated = root.children
    assert isinstance(scoped, Or)
    prefix, phrase = scoped.children
    assert isinstance(prefix, Prefix) and prefix.prefix == "missile" and prefix.field == "title"
    assert (
        isinstance(phrase, Words)
        and phrase.tokens == ("nuclear", "test")
        and phrase.field == "title"
    )
    assert (
        isinstance(negated, Not)
        and isinstance(negated.child, Words)
        and negated.child.field == "text"
    )


def test_unquoted_hyphenated_word_is_a_phrase() -> None:
    root = parse("Jong-un")
    assert isinstance(root, Words) and root.tokens == ("jong", "un")


def test_near_with_and_without_distance() -> None:
    root = parse("putin NEAR/5 (sanction* OR embargo)")
    assert isinstance(root, Near) and root.distance == 5
    default = parse("putin NEAR sanctions")
    assert isinstance(default, Near) and default.distance == 10


def test_lowercase_operators_are_words() -> None:
    root = parse("rock and roll")
    assert isinstance(root, And) and len(root.children) == 3


def test_entity_lang_and_source_clauses() -> None:
    root = parse("entity:ru-putin lang:EN source:www.Reuters.com")
    assert isinstance(root, And)
    ent, lang, src = root.children
    assert isinstance(ent, EntityRef) and ent.value == "ru-putin" and not ent.quoted
    assert isinstance(lang, Lang) and lang.code == "en"
    assert isinstance(src, Source) and src.domain == "reuters.com"


def test_escaped_quote_inside_phrase() -> None:
    root = parse(r'"the \"big\" deal"')
    assert isinstance(root, Words) and root.tokens == ("the", "big", "deal")


# --- entity resolution ------------------------------------------------------------------


def test_entity_name_resolves_to_one_id() -> None:
    query = compile_query('entity:"Kim Jong-un" AND missile*', KB)
    ent = leaves(query.root)[0]
    assert isinstance(ent, EntityRef) and ent.id == "kp-kim"


def test_bare_known_id_is_kept() -> None:
    ent = compile_query("entity:ru-putin", KB).root
    assert isinstance(ent, EntityRef) and ent.id == "ru-putin"


def test_ambiguous_entity_name_lists_the_candidates() -> None:
    err = error_of('putin OR entity:"Kim"', KB)
    assert err.position == 9
    assert err.reason == "ambiguous_entity"
    assert "kp-kim-yo" in str(err) and "kr-kim" in str(err)


def test_unknown_entity_is_refused() -> None:
    err = error_of('entity:"Nobody Atall"', KB)
    assert err.reason == "unknown_entity" and err.position == 0
    assert error_of("entity:no-such-id", KB).reason == "unknown_entity"


def test_unlinked_ids_need_no_entry() -> None:
    ent = compile_query("entity:x:jane-doe", KB).root
    assert isinstance(ent, EntityRef) and ent.id == "x:jane-doe"


def test_entity_name_without_knowledge_base_is_refused() -> None:
    assert error_of('entity:"Kim Jong Un"').reason == "unknown_entity"


def test_real_knowledge_base_lookup_resolves_names() -> None:
    from pipeline.entities.kb import KnowledgeBase

    kb = KnowledgeBase([EntityEntry(id="ru-putin", name="Vladimir Putin", type="PERSON")])
    ent = compile_query('entity:"Vladimir Putin"', kb).root
    assert isinstance(ent, EntityRef) and ent.id == "ru-putin"


# --- hostile queries: clear errors with positions ---------------------------------------


@pytest.mark.parametrize(
    ("query", "position", "expected"),
    [
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ("(putin OR kim", 13, "expected ')' to close the '(' at position 0"),
        ("putin)", 5, "unbalanced ')'"),
        ('putin "kim jong', 6, "unterminated phrase"),
        ("*tin", 0, "leading wildcards"),
        ("pu*tin", 2, "only allowed once, at the end"),
        ("putin**", 5, "only allowed once"),
        ("a NEAR/0 b", 2, "NEAR/0 is out of range"),
        ("a NEAR/101 b", 2, "out of range"),
        ("a NEAR/x b", 2, "expected NEAR or NEAR/n"),
        ("a NEAR/3 b NEAR/3 c", 11, "cannot be chained"),
        ("a NEAR/3 NOT b", 9, "expected a word, phrase, field or '('"),
        ("a NEAR/3 (b AND c)", 2, "NEAR needs"),
        ("title:a NEAR/3 text:b", 8, "within one field"),
        ("()", 0, "empty parentheses"),
        ("AND putin", 0, "found AND"),
        ("putin AND", 9, "found the end of the query"),
        ("putin OR OR kim", 9, "found OR"),
        ("foo:bar", 0, "unknown field 'foo:'"),
        ("title: putin", 6, "expected a value right after 'title:'"),
        ("title:(text:putin)", 7, "cannot be used inside 'title:'"),
        ("lang:english", 5, "ISO 639-1"),
        ('source:"a b"', 7, "expected a domain"),
        ('entity:""', 7, "empty entity name"),
        ("!!!", 0, "no letters or digits"),
        ("🙂", 0, "no letters or digits"),
        ('""', 0, "empty phrase"),
    ],
)
def test_malformed_queries_name_position_and_expectation(
    query: str, position: int, expected: str
) -> None:
    err = error_of(query)
    assert err.position == position, str(err)
    assert expected in str(err)
    assert str(err).startswith(f"position {position}:")


@pytest.mark.parametrize(
    "query",
    [
        "a*",
        "ab*",
        "NOT putin",
        "NOT a AND NOT b",
        "putin OR NOT kim",
        "lang:en",
        "source:reuters.com AND lang:en",
        " OR ".join(f"w{i}" for i in range(MAX_CLAUSES + 1)),
        "(" * 20 + "putin" + ")" * 20,
        "NOT " * 20 + "putin",
        "x" * (MAX_QUERY_CHARS + 1),
    ],
)
def test_pathological_queries_are_refused_as_too_expensive(query: str) -> None:
    err = error_of(query)
    assert err.reason == "query_too_expensive", str(err)
    assert "too" in str(err)


def test_very_deep_nesting_never_reaches_the_recursion_limit() -> None:
    for query in ("(" * 4000, "NOT " * 2000 + "a", "(" * 3000 + "a" + ")" * 3000):
        assert error_of(query).reason == "query_too_expensive"


def test_control_and_odd_unicode_characters_do_not_crash() -> None:
    root = parse("naïve\u200b café\x00 مرحبا")
    assert [leaf.tokens for leaf in leaves(root) if isinstance(leaf, Words)] == [
        ("naive",),
        ("cafe",),
        ("مرحبا",),
    ]


def test_query_error_is_permanent() -> None:
    from pipeline.errors import PermanentError

    assert isinstance(error_of("("), PermanentError)


def test_folding_does_not_depend_on_what_was_folded_before(monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.query as query

    letters = "".join(chr(c) for c in range(0xC0, 0x17F) if chr(c).isalpha())  # many accents
    text = "½ " + " ".join(letters) + " Ÿ"
    monkeypatch.setattr(query, "_PIECES", {})
    monkeypatch.setattr(query, "_TABLE", {i: i for i in range(128)})
    cold = fold(text)
    assert cold == fold(text)  # warm cache, same answer
    assert cold == "".join(fold(c) for c in text)  # folding is per character
    assert "é" not in cold and "1 2" in cold
    assert tokenize("Ÿ É") == ["y", "e"]


def test_folding_with_learnt_scripts_matches_per_character_folding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import re

    import pipeline.query as query

    monkeypatch.setattr(query, "_SAME", set())
    monkeypatch.setattr(query, "_NOT_SAME", re.compile("[^\\x00-\\x7f]"))
    # Gurmukhi letters fold to themselves, its nukta/virama and danda do not; Greek
    # capitals change case. Folded cold, then with the letters learnt: same result.
    text = "ਪੰਜਾਬ ਸ਼ਹਿਰ ਦਾ ਪ੍ਰਧਾਨ। ΑΘΗΝΑ Müller ½"
    cold = fold(text)
    assert query._SAME and "ਪ" in query._SAME and "਼" not in query._SAME
    assert fold(text) == cold == "".join(fold(c) for c in text)
    assert "।" not in cold and "αθηνα" in cold


def test_learnt_characters_stop_growing_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    import pipeline.query as query

    letters = "".join(c for c in map(chr, range(0x0400, 0x0700)) if fold(c) == c)
    assert len(letters) > 100  # Cyrillic, Armenian, Hebrew, Arabic letters
    monkeypatch.setattr(query, "_SAME", set())
    monkeypatch.setattr(query, "_NOT_SAME", re.compile("[^\\x00-\\x7f]"))
    monkeypatch.setattr(query, "_SAME_LIMIT", 50)
    half = len(letters) // 2
    assert fold(letters[:half]) == letters[:half]
    assert len(query._SAME) == half  # one learning pass past the limit, then no more
    assert fold(letters) == letters and fold(letters[::-1]) == letters[::-1]
    assert len(query._SAME) == half
