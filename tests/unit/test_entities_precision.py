"""Precision of unlinked names: sentence ends, common words by language, inflected country names."""

from __future__ import annotations

import functools

import pytest

from pipeline.entities import EntityEntry, KnowledgeBase, tag
from pipeline.entities.builtin import inflections


@functools.cache
def builtin() -> KnowledgeBase:
    return KnowledgeBase.builtin(recogniser=False)


def names(text: str, language: str | None = None, title: str | None = None) -> dict[str, str]:
    """Map entity id -> entity name."""
    return {e.id: e.name for e in tag(text, title=title, kb=builtin(), language=language)}


# -- rule 1: no name crosses a sentence end ------------------------------------


def test_an_unlinked_name_never_spans_a_sentence_end() -> None:
    text = "The ferry left from Bergen. Crews said the weather held. Marta Olsen agreed."
    found = names(text, "en")
    assert "x:bergen-crews" not in found
    assert "x:marta-olsen" in found
    assert not any("." in name for name in found.values())


@pytest.mark.parametrize("end", [". ", "! ", "? ", "\n"])
def test_every_kind_of_sentence_end_splits_a_run(end: str) -> None:
    text = f"Supplies reached Tromsdal{end}Harbour Pilots then docked near Kvaloya Point."
    found = names(text, "en")
    assert not any("Tromsdal" in n and "Harbour" in n for n in found.values()), found


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    text = (
        "Talks resumed when Mr. Tobias Renwick arrived. Later, Harold V. Brisk joined "
        "the U.S. Navy delegation led by J. Okonkwo."
    )
    found = names(text, "en")
    assert found.get("x:tobias-renwick") == "Tobias Renwick"
    assert "x:harold-brisk" in found  # middle initial folded away, one name
    assert "x:okonkwo" in found  # an initial after a lower-case word is folded away
    # Short capitalised words without vowels are abbreviations, not sentence ends.
    assert "x:st-aldric" in names("Fans travelled to St. Aldric for the final.", "en")


def test_a_knowledge_base_name_is_kept_before_a_sentence_start() -> None:
    # "Norway" followed by a capitalised word of the next sentence is still Norway.
    found = names("The cable runs to Norway. Engineers finished it in May.", "en")
    assert "country:NO" in found


def test_a_knowledge_base_key_with_an_abbreviation_still_matches() -> None:
    # A declared key that spans "CO. INC." tells that the period is an abbreviation.
    entry = EntityEntry(id="acme", name="Tarn Cobalt CO. INC.", type="ORG")
    kb = builtin().extended([entry])
    found = {
        e.id for e in tag("Analysts said Tarn Cobalt CO. INC. expanded.", kb=kb, language="en")
    }
    assert "acme" in found


# -- rule 2: common words of the article's language ----------------------------

GERMAN = (
    "Im vergangenen Jahr hat die Werft so viele Container verladen wie nie. "
    "Der Zuwachs gehe auf den Handel zurück, sagte ein Sprecher am Dienstag. "
    "Container aus Rotterdam und Danzig kamen dazu. Viele Beschäftigte gehen in Rente. "
    "Die Quellwerk Logistik baut nun einen Seehafen bei Wismarhagen."
)


def test_german_common_nouns_are_not_unlinked_names() -> None:
    found = names(GERMAN, "de")
    for noun in ("jahr", "container", "zuwachs", "handel", "sprecher", "rente", "beschaftigte"):
        assert f"x:{noun}" not in found, noun
    assert found.get("city:2747891") == "Rotterdam"  # a city in the knowledge base
    assert "x:wismarhagen" in found
    assert "x:quellwerk-logistik" in found  # multi-word runs are not filtered


def test_without_a_language_german_nouns_stay_as_before() -> None:
    # The filter needs the language: an unknown one keeps the old behaviour.
    assert "x:container" in names(GERMAN, None)


def test_german_acronyms_in_capitals_are_kept() -> None:
    found = names("Am Wochenende warnte der ADAC vor Staus und Umleitungen.", "de")
    assert "x:adac" in found
    assert "x:staus" in found  # rare as a word: the filter keeps rare capitalised words


def test_sentence_initial_common_words_are_dropped_in_any_language() -> None:
    german = names("Für Wismarhagen bleibt die Lage schwierig. Auch Kellerbach klagt.", "de")
    assert "x:wismarhagen" in german
    assert not any(n.startswith(("Für", "Auch")) for n in german.values()), german
    french = names("Plusieurs riverains de Vauclerc-sur-Orne protestent. Selon eux, rien.", "fr")
    assert not any(n.startswith(("Plusieurs", "Selon")) for n in french.values()), french
    english = names(
        "Several residents of Oxbridge Vale complained. However, nothing changed.", "en"
    )
    assert "x:however" not in english and "x:several" not in english


def test_english_capitalised_common_words_mid_sentence_are_still_names() -> None:
    # English does not capitalise nouns: a capital mid-sentence is evidence of a name.
    found = names("Investors sold Apple shares and watched Amazon closely.", "en")
    assert "x:apple" in found and "x:amazon" in found


@pytest.mark.parametrize("language", ["", "xx", "DE-at", "de_CH", "zz-ZZ", "und", "a" * 500])
def test_odd_language_codes_never_crash(language: str) -> None:
    tag(GERMAN, kb=builtin(), language=language)


# -- rule 3: inflected built-in country names ------------------------------------


def test_inflections_come_from_the_german_base_form() -> None:
    assert "Vereinigten Staaten" in inflections("Vereinigte Staaten")
    assert "Vereinigten Arabischen Emirate" in inflections("Vereinigte Arabische Emirate")
    assert inflections("Kap Verde") == []
    assert inflections("Polen") == []


def test_inflected_and_translated_country_names_link_to_the_country() -> None:
    text = (
        "Der Handel mit den Vereinigten Staaten wuchs, auch mit Polen. "
        "Im Vereinigten Königreich und in der Zentralafrikanischen Republik sank er."
    )
    found = names(text, "de")
    assert {"country:US", "country:PL", "country:GB", "country:CF"} <= set(found)
    assert not any(i.startswith("x:vereinigt") for i in found), found
    french = names("Les ferries vers l'Algérie et l'Espagne repartent.", "fr")
    assert {"country:DZ", "country:ES"} <= set(french)


def test_translations_that_are_english_words_are_not_aliases() -> None:
    # "Island" is German for Iceland and "Maurice" French for Mauritius.
    found = names("Maurice walked to the Island ferry.", "en")
    assert "country:IS" not in found and "country:MU" not in found


# -- hostile input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        ". . . " * 2000,
        "A. B. C. D. " * 2000,
        "Mr. " * 3000 + "Smith",
        "Vereinigten " * 3000 + "Staaten",
        "Jahr. " * 3000,
        "\n".join(["Ünïcödé Wörter. Éclat!"] * 500),
        "Der\u00a0Container.\u200bJahr\u2029Polen",
    ],
)
def test_hostile_text_never_crashes(text: str) -> None:
    for language in ("de", "fr", "en", None):
        tag(text, kb=builtin(), language=language)
