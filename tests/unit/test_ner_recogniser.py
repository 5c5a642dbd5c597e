"""The named-entity recogniser: types, roles apart from names, knowledge-base priority, bad input."""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import pytest

from pipeline.entities import EntityEntry, KnowledgeBase, tag
from pipeline.entities.recogniser import (
    Recogniser,
    RecogniserError,
    decode,
    default_recogniser,
)
from pipeline.entities.roles import is_role
from pipeline.models import Entity


@lru_cache(maxsize=1)
def _kb() -> KnowledgeBase:
    return KnowledgeBase.builtin()


def _mentions(entities: list[Entity]) -> list[tuple[str, str, str, str | None]]:
    return [(e.type, e.id, m.text, m.role) for e in entities for m in e.mentions]


def _spans(entities: list[Entity]) -> list[tuple[int, int]]:
    return sorted((m.start, m.end) for e in entities for m in e.mentions)


def test_the_builtin_knowledge_base_carries_the_shipped_recogniser() -> None:
    assert isinstance(_kb().name_finder, Recogniser)
    assert KnowledgeBase.builtin(recogniser=False).name_finder is None


def test_a_title_is_a_role_not_part_of_the_name_or_its_id() -> None:
    text = "Defense Minister Sergei Shoigu visited the troops on Monday."
    found = _mentions(tag(text, kb=_kb(), language="en"))
    assert ("PERSON", "x:sergei-shoigu", "Sergei Shoigu", "Defense Minister") in found


@pytest.mark.parametrize(
    ("text", "language", "name", "role"),
    [
        (
            "Bundeskanzler Friedrich Merz sagte am Dienstag, man werde verhandeln.",
            "de",
            "Friedrich Merz",
            "Bundeskanzler",
        ),
        (
            "The Pentagon said spokesman John Kirby would brief reporters later.",
            "en",
            "John Kirby",
            "spokesman",
        ),
        (
            "Le président Emmanuel Macron a reçu les syndicats à l'Élysée.",
            "fr",
            "Emmanuel Macron",
            "président",
        ),
    ],
)
def test_roles_in_several_languages(text: str, language: str, name: str, role: str) -> None:
    found = _mentions(tag(text, kb=_kb(), language=language))
    assert any(t == "PERSON" and n == name and r == role for t, _, n, r in found), found


def test_the_same_person_has_the_same_id_with_or_without_a_title() -> None:
    a = tag("Foreign Minister Anna Lindqvist spoke first.", kb=_kb(), language="en")
    b = tag("Anna Lindqvist spoke first.", kb=_kb(), language="en")
    ids_a = {e.id for e in a if e.type == "PERSON"}
    ids_b = {e.id for e in b if e.type == "PERSON"}
    assert ids_a == ids_b == {"x:anna-lindqvist"}


def test_unlisted_people_and_organisations_get_their_types() -> None:
    text = (
        "Audrey Hepburn starred in the film. Later, Amnesty International criticised "
        "the government, and the factories closed."
    )
    found = {(t, n) for t, _, n, _ in _mentions(tag(text, kb=_kb(), language="en"))}
    assert ("PERSON", "Audrey Hepburn") in found
    # one name, not two fragments (its type is not checked: the model still calls it PERSON)
    assert any(n == "Amnesty International" for _, n in found), found


def test_a_place_name_does_not_split_a_longer_name() -> None:
    text = "On Sunday Real Madrid beat their rivals in front of a full stadium."
    entities = tag(text, kb=_kb(), language="en")
    found = _mentions(entities)
    assert any(n == "Real Madrid" and t == "ORG" for t, _, n, _ in found), found
    assert not any(n == "Madrid" for _, _, n, _ in found)


def test_a_declared_name_keeps_its_link_inside_a_recognised_span() -> None:
    kb = _kb().extended([EntityEntry(id="wl:shoigu", name="Sergei Shoigu", type="PERSON")])
    text = "Defense Minister Sergei Shoigu visited the troops on Monday."
    found = _mentions(tag(text, kb=kb, language="en"))
    assert ("PERSON", "wl:shoigu", "Sergei Shoigu", "Defense Minister") in found
    assert not any(i.startswith("x:") and "shoigu" in i for _, i, _, _ in found)


def test_mentions_never_overlap_and_never_cross_a_sentence_end() -> None:
    text = (
        "The Motion Picture Association of America met in Los Angeles. Crews from Bergen "
        "arrived later. Der Papst sprach in Rom. Heute traf er Olaf Scholz. "
        "Министр прилетел в Риме. Сегодня Владимир Путин выступил в Москве."
    )
    for language in ("en", "de", "ru", None):
        spans = _spans(tag(text, kb=_kb(), language=language))
        for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False):
            assert e1 <= s2, spans
        for s, e in spans:
            assert ". " not in text[s:e], text[s:e]


def test_german_common_nouns_and_sentence_openers_are_not_names() -> None:
    text = (
        "Die Regierungschefs trafen sich am Mittwoch im Gerichtsgebäude. Der Warnstreik "
        "dauerte an, und die Herstellung von Schuhen stand still. Ende der Woche kamen "
        "die Kinder zurück."
    )
    names = {n for _, _, n, _ in _mentions(tag(text, kb=_kb(), language="de"))}
    for word in ("Regierungschefs", "Gerichtsgebäude", "Warnstreik", "Herstellung", "Ende"):
        assert not any(word in n for n in names), names


def test_a_headline_in_capitals_and_a_table_header_give_no_names() -> None:
    text = "SOCCER - LEADING RESULTS\nW L T GF GA PTS\nThe match ended in a draw."
    assert not [e for e in tag(text, kb=_kb(), language="en") if not e.linked]


def test_decode_turns_bio_labels_into_names() -> None:
    names = decode(["B-PER", "I-PER", "O", "I-LOC", "B-ORG", "I-PER"], offset=10)
    assert [(n.i, n.j, n.type) for n in names] == [
        (10, 11, "PERSON"),
        (13, 13, "LOC"),
        (14, 14, "ORG"),
        (15, 15, "PERSON"),
    ]


@pytest.mark.parametrize(
    ("word", "role"),
    [
        ("minister", True),
        ("bundeskanzlerin", True),
        ("sonderberaterin", True),
        ("presentatoren", True),
        ("spokesman", True),
        ("ministerium", False),
        ("merkel", False),
        ("berlin", False),
    ],
)
def test_role_words(word: str, role: bool) -> None:
    assert is_role(word) is role


def test_a_missing_model_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RecogniserError, match="not found"):
        Recogniser(tmp_path / "none.crfsuite", None)


def test_a_broken_model_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.crfsuite"
    broken.write_bytes(b"not a model at all" * 10)
    with pytest.raises(RecogniserError, match="cannot load"):
        Recogniser(broken, None)


def test_the_shipped_model_loads_once_per_process() -> None:
    assert default_recogniser() is default_recogniser()


# -- bad input ---------------------------------------------------------------------------


def test_text_in_any_script_never_crashes() -> None:
    samples = [
        "東京都の小池百合子知事は記者会見で述べた。",
        "قال الرئيس عبد الفتاح السيسي إن مصر مستعدة.",
        "राष्ट्रपति द्रौपदी मुर्मू ने कहा।",
        "Ἐν ἀρχῇ ἦν ὁ λόγος. Ω Ψ Σ",
        "\u200b\u0301A\u0308\ufeff İstanbul ǅemal ß ẞ \U0001f600 Ⅻ ⅻ",
        "".join(chr(c) for c in range(0x20, 0x3000, 7)),
    ]
    for text in samples:
        for language in (None, "en", "ja", "ar", "xx"):
            for entity in tag(text, kb=_kb(), language=language):
                for m in entity.mentions:
                    assert text[m.start : m.end] == m.text


def _cpu(text: str) -> float:
    started = time.process_time()
    tag(text, kb=_kb(), language="en")
    return time.process_time() - started


def test_a_megabyte_of_capitals_is_linear_and_bounded() -> None:
    line = "THE PRESIDENT OF THE REPUBLIC MET GENERAL MOTORS IN NEW YORK TODAY. "
    small = line * (100_000 // len(line))
    large = line * (1_000_000 // len(line))
    assert len(large) >= 990_000
    t_small, t_large = _cpu(small), _cpu(large)
    assert t_large < 30
    assert t_large < 25 * max(t_small, 0.01)  # 10x the text: about 10x the time


def test_a_long_run_without_punctuation_is_linear_and_bounded() -> None:
    words = ["Anna", "Berg", "sagte", "heute", "dass", "Paris", "Nord", "und", "Karl", "Otto"]
    small = " ".join(words[k % len(words)] for k in range(10_000))
    large = " ".join(words[k % len(words)] for k in range(100_000))
    t_small, t_large = _cpu(small), _cpu(large)
    assert t_large < 60
    assert t_large < 25 * max(t_small, 0.01)
    entities = tag(large, kb=_kb(), language="de")
    spans = _spans(entities)
    for (_, e1), (s2, _) in zip(spans, spans[1:], strict=False):
        assert e1 <= s2


# -- one article, one name -----------------------------------------------------------------


def test_a_recognised_name_is_tagged_wherever_the_article_repeats_it() -> None:
    text = (
        "Shares of Halden Maritime fell on Monday after the regulator opened an inquiry. "
        "Halden Maritime said it would cooperate. Analysts expect Halden Maritime to pay a fine."
    )
    entities = tag(text, kb=_kb(), language="en")
    names = [n for _, _, n, _ in _mentions(entities)]
    found = [e for e in entities if e.name == "Halden Maritime"]
    # every occurrence, or none: one entity, one type
    assert names.count("Halden Maritime") in (0, 3), names
    assert len(found) <= 1


def test_an_article_is_not_needed_inside_a_name() -> None:
    """A recognised span never starts with an article or a particle that a link follows."""
    text = "La Unión Europea aprobó el plan."
    ids = {e.id: [m.text for m in e.mentions] for e in tag(text, kb=_kb(), language="es")}
    assert ids.get("org:eu") == ["Unión Europea"], ids


def test_an_acronym_the_model_leaves_out_is_still_a_name() -> None:
    text = (
        "The pro-Beijing camp won, while the XQZ lost two seats in the vote "
        "and the other parties held theirs."
    )
    names = {n for _, _, n, _ in _mentions(tag(text, kb=_kb(), language="en"))}
    assert "XQZ" in names, names


def test_common_acronyms_and_the_pronoun_are_not_names() -> None:
    text = "I watched TV with the CEO. I said it was OK, and I left."
    names = {n for _, _, n, _ in _mentions(tag(text, kb=_kb(), language="en"))}
    assert not names & {"I", "TV", "CEO", "OK"}, names


def test_a_company_suffix_makes_an_organisation() -> None:
    text = "The contract went to Varnholt Systemtechnik GmbH, a supplier based in the south."
    types = {e.name: e.type for e in tag(text, kb=_kb(), language="en")}
    assert types.get("Varnholt Systemtechnik GmbH") == "ORG", types


def test_a_german_compound_ending_in_a_common_noun_is_no_name() -> None:
    text = (
        "Nach Angaben der Hafenbehörde wurden im Hamburger Hafen mehr als neun Millionen "
        "Standardcontainer bewegt."
    )
    names = {n for _, _, n, _ in _mentions(tag(text, kb=_kb(), language="de"))}
    assert not names & {"Standardcontainer", "Hafenbehörde"}, names


def test_a_sentence_opener_the_title_writes_in_lower_case_is_no_name() -> None:
    title = "Storm shuts ferry ports along the coast"
    text = "Ferry services to Denmark are expected to resume on Monday, the operator said."
    names = {e.name for e in tag(text, title=title, kb=_kb(), language="en")}
    assert "Ferry" not in names, names
    assert "Denmark" in names
