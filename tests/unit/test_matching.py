"""The presearch matcher: hits, filters, explanations, incremental changes, brute-force agreement."""

from __future__ import annotations

import random

import pytest

from pipeline.errors import QueryError
from pipeline.matching import (
    MAX_ALTERNATIVES,
    Monitor,
    compile_watchlist,
    explain_miss,
    explain_record,
)
from pipeline.models import EnrichedRecord, Entity, Language, Mention
from pipeline.query import fold
from pipeline.watchlist import Watchlist

TEXT = (
    "North Korean leader Kim Jong-un met Vladimir V. Putin in Vladivostok on Thursday. "
    "The talks covered sanctions, missile tests and the economy of Pyongyang. "
    "Analysts in São Paulo and Zürich said the meeting changed little for the sanctions regime."
)


def record(
    text: str = TEXT,
    *,
    title: str | None = "Kim and Putin meet in Vladivostok",
    lang: str = "en",
    url: str = "https://www.reuters.com/world/kim-putin",
    source: str | None = "reuters.com",
    entities: list[Entity] | None = None,
) -> EnrichedRecord:
    if entities is None:
        start = text.find("Kim Jong-un")
        entities = (
            [
                Entity(
                    id="kp-kim",
                    name="Kim Jong Un",
                    type="PERSON",
                    mentions=[Mention(start=start, end=start + 11, text="Kim Jong-un")],
                    salience=0.8,
                )
            ]
            if start >= 0
            else []
        )
    return EnrichedRecord(
        id="r1",
        url=url,
        source=source,
        title=title,
        text=text,
        language=Language(code=lang, confidence=0.9),
        entities=entities,
    )


def ids(monitor: Monitor, rec: EnrichedRecord) -> list[str]:
    hits = monitor.match(rec)
    assert [h.watchlist.id for h in hits] == [h.watchlist.id for h in monitor.match_bruteforce(rec)]
    return [h.watchlist.id for h in hits]


def matches(query: str, rec: EnrichedRecord | None = None, **fields: object) -> bool:
    monitor = Monitor([Watchlist.model_validate({"id": "w", "query": query, **fields})])
    assert not monitor.errors, monitor.errors
    return ids(monitor, rec or record()) == ["w"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("putin", True),
        ("PUTIN sanctions", True),
        ("putin merkel", False),
        ("putin OR merkel", True),
        ('"Kim Jong Un"', True),
        ("Jong-un", True),
        ('"jong un met"', True),
        ('"un jong"', False),
        ("sanction*", True),
        ("sanctionz*", False),
        ("sao paulo", True),
        ("ZURICH", True),
        ("putin AND NOT merkel", True),
        ("putin AND NOT missile", False),
        ("title:vladivostok", True),
        ("title:sanctions", False),
        ("text:sanctions", True),
        ("text:meet", False),
        ('title:"putin meet"', True),
        ("putin NEAR/3 vladivostok", True),
        ("vladivostok NEAR/3 putin", True),
        ("kim NEAR/2 sanctions", False),
        ("pyongyang NEAR/5 (missile* OR embargo)", True),
        ('"missile tests" NEAR/2 economy', True),
        ('"missile tests" NEAR/1 economy', False),
        ("entity:kp-kim", True),
        ("entity:kp-other", False),
        ("entity:kp-kim NEAR/4 putin", True),
        ("entity:kp-kim NEAR/4 sanctions", False),
        ("lang:en AND putin", True),
        ("lang:fr AND putin", False),
        ("source:reuters.com AND putin", True),
        ("source:bbc.co.uk AND putin", False),
        ("(putin OR merkel) AND (sanctions OR tariffs) AND NOT (football OR cricket)", True),
    ],
)
def test_query_semantics(query: str, expected: bool) -> None:
    assert matches(query) is expected


def test_word_must_be_whole_token() -> None:
    assert not matches("sanction")
    assert matches("sanctions")


def test_watchlist_languages_filter() -> None:
    assert matches("putin", languages=["en", "de"])
    assert not matches("putin", languages=["fr"])


def test_watchlist_sources_include_and_exclude_subdomains() -> None:
    assert matches("putin", sources={"include": ["reuters.com"]})
    assert not matches("putin", sources={"include": ["apnews.com"]})
    assert not matches("putin", sources={"exclude": ["reuters.com"]})
    rec = record(url="https://uk.news.example.org/a", source=None)
    assert matches("putin", rec, sources={"include": ["example.org"]})


def test_min_salience_applies_to_entity_clauses() -> None:
    assert matches("entity:kp-kim", min_salience=0.5)
    assert not matches("entity:kp-kim", min_salience=0.9)
    assert matches("putin", min_salience=0.9)  # no entity clause: nothing to weigh


def test_disabled_watchlist_never_matches() -> None:
    assert not matches("putin", enabled=False)


def test_hit_explains_terms_with_spans_and_snippets() -> None:
    monitor = Monitor(
        [Watchlist(id="w", query='entity:kp-kim AND "missile tests" AND title:putin')]
    )
    rec = record()
    (hit,) = monitor.match(rec)
    by_kind = {(m.entity or m.term, m.field): m for m in hit.matches}
    ent = by_kind[("kp-kim", "text")]
    assert [rec.text[s.start : s.end] for s in ent.spans] == ["Kim Jong-un"]
    assert "«Kim Jong-un»" in ent.snippet
    phrase = by_kind[('"missile tests"', "text")]
    assert [rec.text[s.start : s.end] for s in phrase.spans] == ["missile tests"]
    title = by_kind[("putin", "title")]
    assert rec.title is not None
    assert [rec.title[s.start : s.end] for s in title.spans] == ["Putin"]
    assert title.snippet == "Kim and «Putin» meet in Vladivostok"


def test_spans_of_folded_words_cover_the_original_spelling() -> None:
    monitor = Monitor([Watchlist(id="w", query="zurich OR sao*")])
    rec = record()
    (hit,) = monitor.match(rec)
    found = sorted(rec.text[s.start : s.end] for m in hit.matches for s in m.spans)
    assert found == ["São", "Zürich"]


def test_near_explanation_shows_both_sides() -> None:
    (hit,) = Monitor([Watchlist(id="w", query="putin NEAR/3 vladivostok")]).match(record())
    terms = sorted((m.term or "", m.field) for m in hit.matches)
    assert terms == [
        ("putin", "text"),
        ("putin", "title"),
        ("vladivostok", "text"),
        ("vladivostok", "title"),
    ]


def test_source_and_lang_explanations() -> None:
    (hit,) = Monitor([Watchlist(id="w", query="putin source:reuters.com lang:en")]).match(record())
    assert {m.field for m in hit.matches} == {"text", "title", "source", "lang"}


def test_incremental_add_update_remove() -> None:
    monitor = Monitor([Watchlist(id="a", query="putin"), Watchlist(id="b", query="merkel")])
    rec = record()
    assert ids(monitor, rec) == ["a"]
    monitor.update(Watchlist(id="b", query="pyongyang"))
    assert ids(monitor, rec) == ["a", "b"]
    monitor.update(Watchlist(id="a", query="putin", enabled=False))
    assert ids(monitor, rec) == ["b"]
    assert monitor.remove("b") and not monitor.remove("b")
    assert ids(monitor, rec) == []
    monitor.add(Watchlist(id="c", query="title:kim"))
    assert ids(monitor, rec) == ["c"]
    assert len(monitor) == 2 and "a" in monitor and "b" not in monitor


def test_presearch_skips_watchlists_the_article_cannot_satisfy() -> None:
    monitor = Monitor(
        [
            Watchlist(id="hit", query="putin AND sanctions"),
            Watchlist(id="absent", query="merkel AND embargo"),
            Watchlist(id="entity", query="entity:de-merkel"),
        ]
    )
    assert monitor.candidates(record()) == {"hit"}


def test_bad_watchlist_in_constructor_is_reported_not_raised() -> None:
    monitor = Monitor([Watchlist(id="ok", query="putin"), Watchlist(id="bad", query="(putin")])
    assert set(monitor.errors) == {"bad"}
    assert monitor.errors["bad"].position == 6
    assert ids(monitor, record()) == ["ok"]


def test_compile_watchlist_raises_query_error() -> None:
    with pytest.raises(QueryError) as info:
        compile_watchlist(Watchlist(id="w", query="a*"))
    assert info.value.reason == "query_too_expensive"
    with pytest.raises(QueryError):
        Monitor().add(Watchlist(id="w", query="putin AND"))


def test_explain_record_and_explain_miss() -> None:
    rec = record()
    hit_compiled = compile_watchlist(Watchlist(id="w", query="putin"))
    assert explain_record(hit_compiled, rec) is not None
    assert explain_miss(hit_compiled, rec) == []
    miss = compile_watchlist(Watchlist(id="w", query="putin AND merkel", languages=["fr"]))
    assert explain_record(miss, rec) is None
    reasons = explain_miss(miss, rec)
    assert any("language 'en'" in r for r in reasons)
    assert any("merkel absent" in r for r in reasons)


# --- hostile articles -------------------------------------------------------------------


def test_empty_and_punctuation_only_articles() -> None:
    monitor = Monitor([Watchlist(id="w", query="putin")])
    assert ids(monitor, record(text="", title=None, entities=[])) == []
    assert ids(monitor, record(text="!!! ... ??? — “”", title="", entities=[])) == []


def test_large_repetitive_article_stays_bounded() -> None:
    text = "putin sanctions " * 50_000
    monitor = Monitor(
        [Watchlist(id="w", query="putin NEAR/1 sanctions"), Watchlist(id="v", query="putin")]
    )
    hits = monitor.match(record(text=text, entities=[]))
    assert [h.watchlist.id for h in hits] == ["v", "w"]
    assert all(len(m.spans) <= 10 for h in hits for m in h.matches)


def test_odd_unicode_article() -> None:
    text = "Zu\u0308rich\u200b İstanbul ΟΔΟΣ \ud800 北京市 مرحبا"
    monitor = Monitor(
        [
            Watchlist(id="z", query="zurich"),
            Watchlist(id="i", query="istanbul"),
            Watchlist(id="c", query='"北京"'),
            Watchlist(id="g", query="οδος"),
        ]
    )
    hits = monitor.match(record(text=text, title=None, entities=[]))
    assert [h.watchlist.id for h in hits] == ["c", "g", "i", "z"]
    zurich = hits[-1].matches[0].spans[0]
    assert text[zurich.start : zurich.end] == "Zu\u0308rich"


# --- agreement with brute force ---------------------------------------------------------

VOCAB = fold(TEXT + " merkel embargo football tariffs").split()


def random_query(rng: random.Random) -> str:
    def term() -> str:
        r = rng.random()
        word = rng.choice(VOCAB)
        if r < 0.15:
            return f'"{word} {rng.choice(VOCAB)}"'
        if r < 0.25 and len(word) >= 4:
            return word[: rng.randint(3, len(word))] + "*"
        if r < 0.35:
            return f"title:{word}"
        if r < 0.45:
            return rng.choice(["entity:kp-kim", "entity:kp-other"])
        return word

    shape = rng.randrange(6)
    if shape == 0:
        return term()
    if shape == 1:
        return f"{term()} AND {term()}"
    if shape == 2:
        return f"({term()} OR {term()}) AND NOT {rng.choice(VOCAB)}"
    if shape == 3:
        return f"{rng.choice(VOCAB)} NEAR/{rng.randint(1, 6)} ({rng.choice(VOCAB)} OR {rng.choice(VOCAB)})"
    if shape == 4:
        return f"{term()} OR {term()} OR {term()}"
    return f"{term()} {term()} lang:{rng.choice(['en', 'fr'])}"


def test_presearch_agrees_with_brute_force_on_random_queries() -> None:
    rng = random.Random(7)
    watchlists = [Watchlist(id=f"w{i:04d}", query=random_query(rng)) for i in range(800)]
    monitor = Monitor(watchlists)
    assert not monitor.errors, list(monitor.errors.items())[:3]
    sentences = TEXT.split(". ")
    total = 0
    for i in range(30):
        text = ". ".join(rng.sample(sentences, k=rng.randint(1, len(sentences))))
        rec = record(
            text=text,
            title=rng.choice([None, "Putin in Vladivostok", "Merkel"]),
            lang=rng.choice(["en", "fr"]),
        )
        fast, slow = monitor.match(rec), monitor.match_bruteforce(rec)
        assert [(h.watchlist.id, h.matches) for h in fast] == [
            (h.watchlist.id, h.matches) for h in slow
        ], i
        assert len(monitor.candidates(rec)) < len(watchlists)
        total += len(fast)
    assert total > 100  # the generator produces matches, so agreement is not vacuous


def test_explanations_agree_with_the_evaluator() -> None:
    # Every hit carries at least one match, and every positional match has a span.
    rng = random.Random(11)
    monitor = Monitor([Watchlist(id=f"w{i}", query=random_query(rng)) for i in range(400)])
    for hit in monitor.match(record()):
        assert hit.matches, hit.watchlist.query
        for m in hit.matches:
            if m.field in ("text", "title"):
                assert m.spans and "«" in m.snippet, (hit.watchlist.query, m)


def test_incremental_changes_leave_the_same_index_as_a_fresh_build() -> None:
    # Few distinct words, so primary keys cross the small/large threshold both ways.
    rng = random.Random(5)
    words = ["putin", "kim", "sanctions", "missile", "economy", "talks", "zurich", "merkel"]
    live: dict[str, Watchlist] = {}
    monitor = Monitor()
    for step in range(600):
        wid = f"w{rng.randrange(60)}"
        if rng.random() < 0.3 and wid in live:
            monitor.remove(wid)
            del live[wid]
            continue
        a, b, c = rng.sample(words, 3)
        query = rng.choice(
            [f"{a} AND {b}", f'"{a} {b}"', f"({a} OR {b}) AND {c}", a, f"{a} NEAR/3 {b}"]
        )
        live[wid] = Watchlist(id=wid, query=query, enabled=rng.random() < 0.9)
        monitor.update(live[wid])
        if step % 100 == 99:
            fresh = Monitor(live.values())
            for text in (TEXT, "Merkel and Kim held talks on the economy in Zurich."):
                rec = record(text=text)
                assert monitor.candidates(rec) == fresh.candidates(rec)
                assert ids(monitor, rec) == ids(fresh, rec)
    assert set(monitor.watchlists) == set(live)


def test_second_key_prunes_a_busy_primary_key() -> None:
    # Twenty watchlists share the rarest-looking word; only one's second word is present.
    many = [Watchlist(id=f"w{i:02d}", query=f"pyongyang AND zzword{i}") for i in range(20)]
    monitor = Monitor([*many, Watchlist(id="hit", query="pyongyang AND economy")])
    assert monitor.candidates(record()) == {"hit"}
    for w in many[:-1]:  # a primary key with one watchlist still filters by the second key
        monitor.remove(w.id)
    assert monitor.candidates(record()) == {"hit"}
    monitor.add(Watchlist(id="zz", query="zzword1 OR pyongyang"))  # no second key: always
    assert monitor.candidates(record()) == {"hit", "zz"}


def test_phrase_is_a_candidate_only_where_its_words_are_adjacent() -> None:
    # "sanctions" and "regime" both occur but are not adjacent in the title; "the economy"
    # is a phrase of the text. Many watchlists share each bigram.
    phrases = ['"sanctions regime"', '"regime sanctions"', '"the economy"', '"economy the"']
    monitor = Monitor(
        Watchlist(id=f"{p[1:-1].replace(' ', '-')}-{i}", query=p) for p in phrases for i in range(3)
    )
    found = monitor.candidates(record())
    assert found == {f"{p}-{i}" for p in ("sanctions-regime", "the-economy") for i in range(3)}
    assert ids(monitor, record()) == sorted(found)
    plain = record(title=None, text="The regime said sanctions hurt the economy.")
    assert monitor.candidates(plain) == {f"the-economy-{i}" for i in range(3)}


def test_or_conjunct_gives_alternative_second_keys() -> None:
    # entity AND (a OR b): a candidate only when the entity and one of the words occur.
    monitor = Monitor(
        [
            Watchlist(id="either", query="entity:kp-kim AND (merkel OR vladivostok)"),
            Watchlist(id="neither", query="entity:kp-kim AND (merkel OR embargo)"),
            Watchlist(id="self", query="kim AND (kim OR embargo)"),
        ]
    )
    assert monitor.candidates(record()) == {"either", "self"}
    assert ids(monitor, record()) == ["either", "self"]
    monitor.remove("either")
    assert monitor.candidates(record()) == {"self"}
    for wid in ("neither", "self"):
        monitor.remove(wid)
    # Emptied levels are dropped: the index does not grow with churn.
    assert not (monitor._primaries or monitor._single or monitor._double or monitor._bigrams)


def test_prefix_keys_cover_every_token_of_the_title_and_text() -> None:
    # Prefix keys come from one regex pass over the tokens: a three-letter token, a token
    # after a line break or a tab, a folded one and one only in the title must all count.
    text = "Tax\ncuts\tand Ölpreise rose;\u00a0sanctioned firms"
    queries = ["tax*", "cut*", "olp*", "san*", "fir*", "kim*", "title:pyo*", "text:pyo*"]
    monitor = Monitor(Watchlist(id=f"w{i}", query=q) for i, q in enumerate(queries))
    rec = record(text=text, title="Pyongyang", entities=[])
    assert ids(monitor, rec) == ["w0", "w1", "w2", "w3", "w4", "w6"]


def test_match_phases_reports_each_phase() -> None:
    monitor = Monitor([Watchlist(id="w", query="putin AND sanctions")])
    phases = monitor.match_phases(record())
    assert list(phases) == ["analysis", "presearch", "evaluate", "explain"]
    assert all(ms >= 0.0 for ms in phases.values())


def test_a_long_or_conjunct_is_not_spread_over_second_keys() -> None:
    # Past MAX_ALTERNATIVES alternatives the entity alone files the watchlist: a candidate
    # wherever the entity occurs, and still evaluated exactly.
    words = [f"zzalt{i}" for i in range(MAX_ALTERNATIVES + 1)]
    many = Watchlist(id="many", query=f"entity:kp-kim AND ({' OR '.join(words)})")
    few = Watchlist(id="few", query=f"entity:kp-kim AND ({' OR '.join(words[:2])})")
    monitor = Monitor([many, few])
    assert monitor.candidates(record()) == {"many"}
    assert ids(monitor, record()) == []
    assert ids(monitor, record(text=TEXT + " zzalt1.")) == ["few", "many"]


@pytest.mark.parametrize(
    ("text", "snippet"),
    [
        ("Talks with Putin ended.", "Talks with «Putin» ended."),
        ("Talks  with\nPutin\u00a0ended.\t", "Talks with «Putin» ended."),
        ("Talks with\u2028Putin \u200bended.", "Talks with «Putin» \u200bended."),
    ],
)
def test_snippet_collapses_every_kind_of_whitespace(text: str, snippet: str) -> None:
    (hit,) = Monitor([Watchlist(id="w", query="putin")]).match(
        record(text=text, title=None, entities=[])
    )
    assert [m.snippet for m in hit.matches] == [snippet]
