"""The built-in knowledge base covers smaller cities, subdivisions and local country names,
without linking towns named with ordinary words in running text."""

from __future__ import annotations

from functools import lru_cache

import pytest

from pipeline.entities import KnowledgeBase, tag


@lru_cache(maxsize=1)
def _kb() -> KnowledgeBase:
    return KnowledgeBase.builtin()


def _ids(text: str, language: str = "en") -> dict[str, list[str]]:
    return {e.id: [m.text for m in e.mentions] for e in tag(text, kb=_kb(), language=language)}


def _linked(text: str, language: str = "en") -> set[str]:
    return {i for i in _ids(text, language) if not i.startswith("x:")}


@pytest.mark.parametrize(
    ("name", "entity_id"),
    [
        ("Rotterdam", "city:2747891"),
        ("Vladivostok", "city:2013348"),
        ("Tyskland", "country:DE"),
        ("США", "country:US"),
        ("Danmark", "country:DK"),
        ("Bayern", "subdivision:DE-BY"),
        ("Texas", "subdivision:US-TX"),
    ],
)
def test_lookup_finds_smaller_cities_subdivisions_and_local_names(
    name: str, entity_id: str
) -> None:
    assert [e.id for e in _kb().lookup(name)] == [entity_id]


def test_datelines_in_capitals_link() -> None:
    assert _ids("DETROIT (AP) — Automakers said on Monday that sales rose.") == {
        "city:4990729": ["DETROIT"]  # the agency in brackets is not Detroit's acronym
    }
    assert "city:292223" in _linked("DUBAI, United Arab Emirates (AP) — Iran said on Monday.")
    assert "city:4076598" in _linked("MOBILE, Ala. — The port reopened on Monday.")


def test_towns_named_with_ordinary_words_need_support() -> None:
    text = (
        "Mobile phone sales fell in March. It was nice to read about Reading in Bath, "
        "and the mayor of Nice was in Jackson."
    )
    assert not {i for i in _linked(text) if i.startswith("city:")}, _ids(text)
    assert _ids("He moved to Mobile, Alabama, last year.").get("city:4076598") == [
        "Mobile, Alabama"
    ]


def test_country_names_in_their_own_languages_link() -> None:
    assert {"country:DE", "country:DK"} <= _linked(
        "Han rejste til Tyskland og Danmark i går.", "da"
    )
    assert {"country:US", "country:CN"} <= _linked("Переговоры провели США и Китай.", "ru")


def test_a_smaller_town_is_no_place_inside_a_persons_name() -> None:
    assert not any(i.startswith("city:") for i in _ids("Investigators questioned Ali Hassan."))
