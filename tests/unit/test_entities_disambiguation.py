"""Two known entries sharing a name: the article's words choose, else the link says it is uncertain."""

from __future__ import annotations

from functools import lru_cache

from pipeline.entities import EntityEntry, KnowledgeBase, tag

BUSHES = [
    EntityEntry(
        id="Q207",
        name="George W. Bush",
        type="PERSON",
        aliases=["George Bush", "George Walker Bush", "Dubya"],
    ),
    EntityEntry(
        id="Q23505",
        name="George H. W. Bush",
        type="PERSON",
        aliases=["George Bush", "George Herbert Walker Bush"],
    ),
]


@lru_cache(maxsize=1)
def _kb() -> KnowledgeBase:
    return KnowledgeBase.builtin(recogniser=False).extended(BUSHES)


def _bush(text: str) -> tuple[str, bool]:
    (found,) = [e for e in tag(text, kb=_kb()) if e.id in ("Q207", "Q23505")]
    return found.id, found.uncertain


def test_the_articles_words_choose_between_two_people_of_one_name() -> None:
    assert _bush("George Bush, born George Herbert, flew 58 missions.") == ("Q23505", False)
    assert _bush("George Bush laughed when the crowd chanted Dubya.") == ("Q207", False)


def test_without_support_the_link_is_uncertain_and_says_so() -> None:
    found, uncertain = _bush("George Bush spoke in Texas on Monday.")
    assert found in ("Q207", "Q23505") and uncertain
    (entity,) = [e for e in tag("George Bush spoke.", kb=_kb()) if e.id == found]
    assert entity.model_dump(mode="json")["uncertain"] is True


def test_a_certain_link_leaves_the_field_out_of_json() -> None:
    (entity,) = [e for e in tag("Dubya spoke in Texas.", kb=_kb()) if e.id == "Q207"]
    assert not entity.uncertain
    assert "uncertain" not in entity.model_dump(mode="json")
