"""The name registry: unlinked names that are variants of one another converge on one id."""

from __future__ import annotations

from pipeline.entities.registry import (
    AMBIGUOUS,
    MemoryNameRegistry,
    apply_registry,
    name_keys,
    skeleton,
    transliterate,
)
from pipeline.entities.stream import key_of
from pipeline.entities.tagging import unlinked_id
from pipeline.models import Entity, EntityType, Mention


def _entity(name: str, etype: EntityType = "MISC", start: int = 0) -> Entity:
    words = [w for w in key_of(name).split() if w not in (",", "|")]
    return Entity(
        id=unlinked_id(words),
        name=name,
        type=etype,
        mentions=[Mention(start=start, end=start + len(name), text=name)],
        salience=0.5,
        linked=False,
    )


def _ids(entities: list[Entity]) -> dict[str, str]:
    return {m.text: e.id for e in entities for m in e.mentions}


def test_spellings_across_scripts_share_a_skeleton() -> None:
    assert transliterate("шойгу") == "shoygu"
    assert skeleton(["sergei", "shoigu"]) == skeleton(["сергей", "шойгу"])
    assert skeleton(["sergej", "schoigu"]) == skeleton(["sergey", "shoygu"])
    assert skeleton(["kim", "jong", "un"]) == skeleton(["kim", "jongun"])
    assert skeleton(["vladimir", "putin"]) == skeleton(["wladimir", "putin"])
    assert skeleton(["john", "kirby"]) != skeleton(["john", "kerry"])


def test_a_later_surname_and_a_transliteration_join_the_full_name() -> None:
    registry = MemoryNameRegistry()
    apply_registry([_entity("Sergei Shoigu", "PERSON")], registry)
    later = apply_registry([_entity("Shoigu"), _entity("Сергей Шойгу", start=20)], registry)
    assert _ids(later) == {"Shoigu": "x:sergei-shoigu", "Сергей Шойгу": "x:sergei-shoigu"}
    assert len(later) == 1  # merged into one entity with both mentions


def test_first_and_last_name_join_a_longer_name_only_when_the_surname_is_unique() -> None:
    registry = MemoryNameRegistry()
    apply_registry([_entity("Sergei Kuzhugetovich Shoigu", "PERSON")], registry)
    later = apply_registry([_entity("Sergei Shoigu", "PERSON")], registry)
    assert later[0].id == "x:sergei-kuzhugetovich-shoigu"
    # Two longer names sharing first and last word are two people, and then a short
    # form of either joins neither.
    apply_registry([_entity("Kyong Il Kim", "PERSON")], registry)
    apply_registry([_entity("Kyong Hyok Kim", "PERSON")], registry)
    assert apply_registry([_entity("Kyong Hyok Kim", "PERSON")], registry)[0].id == (
        "x:kyong-hyok-kim"
    )
    assert apply_registry([_entity("Kyong Kim", "PERSON")], registry)[0].id == "x:kyong-kim"


def test_a_particle_and_a_surname_are_one_surname() -> None:
    keys = name_keys(_entity("Al-Ubaidi"))
    assert keys.single and keys.surname == "s|ubaidi"


def test_two_people_with_one_surname_never_merge_a_lone_surname() -> None:
    registry = MemoryNameRegistry()
    apply_registry([_entity("John Smith", "PERSON")], registry)
    apply_registry([_entity("Jane Smith", "PERSON")], registry)
    assert registry.keys["s|smith"] == AMBIGUOUS
    assert apply_registry([_entity("Smith")], registry)[0].id == "x:smith"
    # Different full names keep their own ids.
    assert apply_registry([_entity("Jane Smith", "PERSON")], registry)[0].id == "x:jane-smith"


def test_the_story_knows_better_than_the_stream() -> None:
    registry = MemoryNameRegistry()
    apply_registry([_entity("John Smith", "PERSON")], registry, story_id="a")
    apply_registry([_entity("Jane Smith", "PERSON")], registry, story_id="b")
    assert apply_registry([_entity("Smith")], registry, story_id="a")[0].id == "x:john-smith"
    assert apply_registry([_entity("Smith")], registry, story_id="b")[0].id == "x:jane-smith"
    assert apply_registry([_entity("Smith")], registry, story_id="c")[0].id == "x:smith"


def test_organisations_and_common_last_words_give_no_surname() -> None:
    assert name_keys(_entity("White House")).surname == ""
    assert name_keys(_entity("National Security Council", "ORG")).surname == ""
    assert name_keys(_entity("House", "ORG")).story_only
    assert name_keys(_entity("John Kirby")).surname == ""  # typed MISC: no surname
    assert name_keys(_entity("John Kirby", "PERSON")).surname == "s|kirbi"
    registry = MemoryNameRegistry()
    apply_registry([_entity("White House")], registry)
    assert apply_registry([_entity("House")], registry)[0].id == "x:house"


def test_a_lone_word_typed_a_place_joins_a_person_only_in_the_story() -> None:
    registry = MemoryNameRegistry()
    apply_registry([_entity("Michael Jackson", "PERSON")], registry, story_id="a")
    assert apply_registry([_entity("Jackson", "LOC")], registry, story_id="b")[0].id == (
        "x:jackson"
    )
    assert apply_registry([_entity("Jackson", "LOC")], registry, story_id="a")[0].id == (
        "x:michael-jackson"
    )


def test_linked_entities_are_left_alone() -> None:
    registry = MemoryNameRegistry()
    linked = Entity(id="country:KP", name="North Korea", type="LOC", linked=True)
    assert apply_registry([linked], registry) == [linked]
    assert registry.keys == {}


def test_corrections_merge_split_and_forget() -> None:
    registry = MemoryNameRegistry()
    apply_registry([_entity("John Kirby", "PERSON")], registry)
    registry.split("x:kirby")
    assert apply_registry([_entity("Kirby")], registry)[0].id == "x:kirby"
    registry.merge("x:kirby", "x:john-f-kirby")
    assert apply_registry([_entity("Kirby")], registry)[0].id == "x:john-f-kirby"
    assert registry.forget("x:john-kirby") == 3
    assert "s|kirbi" not in registry.keys


def test_memory_is_bounded_by_dropping_the_least_recently_seen() -> None:
    registry = MemoryNameRegistry(max_keys=30)
    for n in range(40):
        apply_registry([_entity(f"Person Number{chr(97 + n % 26)}{n}", "PERSON")], registry)
    assert len(registry.keys) <= 30
    assert any(v == "x:person-numbern39" for v in registry.keys.values())


def test_a_lone_surname_merged_into_a_person_is_typed_person() -> None:
    registry = MemoryNameRegistry()
    apply_registry([_entity("Halvard Brekkestad", "PERSON")], registry, story_id="a")
    (later,) = apply_registry([_entity("Brekkestad", "LOC")], registry, story_id="a")
    assert (later.id, later.type) == ("x:halvard-brekkestad", "PERSON")
    registry.forget("x:halvard-brekkestad")
    assert registry.keys == {}
