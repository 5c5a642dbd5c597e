"""The knowledge base: built-in places, lookup, takeover of built-in names, entry files."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from pipeline.entities import (
    EntityEntry,
    EntityFileError,
    KnowledgeBase,
    load_entries,
    load_ofac,
    tag,
)
from pipeline.entities.builtin import demonyms_of
from pipeline.entities.stream import key_of, keys_of, tokenize


@functools.cache
def builtin() -> KnowledgeBase:
    return KnowledgeBase.builtin()


def test_builtin_has_countries_capitals_major_cities_and_demonyms() -> None:
    kb = builtin()
    assert [e.id for e in kb.lookup("North Korea")] == ["country:KP"]
    assert [e.id for e in kb.lookup("DPRK")] == ["country:KP"]
    assert [e.id for e in kb.lookup("Democratic People's Republic of Korea")] == ["country:KP"]
    assert kb.lookup("Pyongyang")[0].type == "LOC"
    assert kb.lookup("Moskau")[0].name == "Moscow"
    assert "North Korean" in kb.lookup("North Korea")[0].demonyms
    assert kb.lookup("North Korean") == []  # a demonym links in text but names nothing


def test_demonym_rules() -> None:
    forms = {f for f, _ in demonyms_of("Russia", ["Russian"])}
    assert {"Russian", "Russians"} <= forms
    assert "Japanese" in {f for f, _ in demonyms_of("Japan", ["Japanese"])}
    assert "Mexican" in {f for f, _ in demonyms_of("Mexico", ["Spanish"])}


def test_lookup_folds_case_diacritics_hyphens_and_list_order() -> None:
    kb = KnowledgeBase([EntityEntry(id="kim", name="KIM, Jong Un", type="PERSON")])
    for name in ("Kim Jong Un", "kim jong-un", "KIM, Jong Un", "Jong Un Kim", "Kím Jong Ün"):
        assert [e.id for e in kb.lookup(name)] == ["kim"], name
    assert kb.lookup("Kim") == []
    assert kb.lookup("") == []


def test_lookup_reports_ambiguity() -> None:
    kb = KnowledgeBase(
        [
            EntityEntry(id="a", name="Ali Hassan", type="PERSON"),
            EntityEntry(id="b", name="HASSAN, Ali", type="PERSON"),
        ]
    )
    assert sorted(e.id for e in kb.lookup("Ali Hassan")) == ["a", "b"]


def test_extended_replaces_same_id_and_keeps_builtin() -> None:
    kb = builtin().extended([EntityEntry(id="x1", name="Acme Widgets", type="ORG")])
    kb2 = kb.extended([EntityEntry(id="x1", name="Acme Gadgets", type="ORG")])
    assert kb2.lookup("Acme Widgets") == []
    assert [e.id for e in kb2.lookup("Acme Gadgets")] == ["x1"]
    assert len(kb2) == len(kb)
    assert kb2.lookup("France")


def test_declared_place_takes_over_the_builtin_aliases() -> None:
    kb = builtin().extended([EntityEntry(id="nk", name="North Korea", type="LOC")])
    assert [e.id for e in kb.lookup("DPRK")] == ["nk"]
    found = {e.id for e in tag("A North Korean envoy said the DPRK agreed.", kb=kb)}
    assert found == {"nk"}


def test_declared_person_does_not_take_over_a_place() -> None:
    kb = builtin().extended([EntityEntry(id="p", name="Georgia", type="PERSON")])
    assert {e.id for e in kb.lookup("Georgia")} == {"p", "country:GE"}


def test_keys_of_matches_tokenize() -> None:
    names = [
        "",
        "Vladimir V. Putin",
        "ANGLO-CARIBBEAN CO., LTD.",
        "U.S.",
        "(x) y",
        "...",
        "Foo",
        "x\x1ey",
    ]
    assert keys_of(names) == [tokenize(n).string for n in names]
    assert key_of("Jong-un") == key_of("Jong Un") == "jong un"


# -- entry files -----------------------------------------------------------------------


def test_load_csv_and_yaml(tmp_path: Path) -> None:
    csv_file = tmp_path / "e.csv"
    csv_file.write_text(
        'id,name,type,aliases\nacme,Acme Corp,ORG,"ACME|Acme Corporation"\np1,Jane Roe,person,\n'
    )
    entries = load_entries(csv_file)
    assert entries[0].aliases == ["ACME", "Acme Corporation"]
    assert entries[1].type == "PERSON"
    yaml_file = tmp_path / "e.yaml"
    yaml_file.write_text("entities:\n  - {id: acme, name: Acme Corp, type: ORG, aliases: [ACME]}\n")
    assert load_entries(yaml_file)[0].aliases == ["ACME"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "name\nfoo\n", "header"),
        ("b.csv", "id,name,type\n,foo,ORG\n", "line 2"),
        ("c.csv", "id,name,type\nx,foo,ALIEN\n", "ALIEN"),
        ("d.yaml", "key: [unclosed", "YAML"),
        ("e.yaml", "42", "list"),
        ("f.yaml", "- just a string", "mapping"),
        ("g.yaml", "- {id: x, name: y, aliases: 7}", "aliases"),
        ("h.csv", "id,name\nx," + "y" * 5000 + "\n", "line 2"),
    ],
)
def test_bad_entry_files_fail_clearly(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(EntityFileError, match=message):
        load_entries(path)


def test_binary_and_missing_files_fail_clearly(tmp_path: Path) -> None:
    path = tmp_path / "bin.csv"
    path.write_bytes(b"id,name\n\x00\x01\x02")
    with pytest.raises(EntityFileError, match="binary"):
        load_entries(path)
    with pytest.raises(EntityFileError, match="cannot read"):
        load_entries(tmp_path / "missing.csv")


def test_load_ofac_pair(tmp_path: Path) -> None:
    sdn = tmp_path / "sdn.csv"
    alt = tmp_path / "alt.csv"
    sdn.write_text(
        "36,AEROCARIBBEAN AIRLINES,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n"
        '20157,"KIM, Jong Un",individual,DPRK3,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n'
        "4238,MAR AZUL,vessel,CUBA,-0- ,CL2192,Tug,-0- ,212,Cuba,-0- ,-0- \n\x1a"
    )
    alt.write_text("36,12,aka,AERO-CARIBBEAN,-0- \n")
    entries = {e.id: e for e in load_ofac(sdn, alt)}
    assert entries["ofac:36"].aliases == ["AERO-CARIBBEAN"]
    assert entries["ofac:20157"].type == "PERSON"
    assert entries["ofac:4238"].type == "MISC"
    kb = KnowledgeBase(entries.values())
    found = {e.id for e in tag("Kim Jong Un flew Aero-Caribbean.", kb=kb)}
    assert {"ofac:20157", "ofac:36"} <= found


def test_bad_ofac_files_fail_clearly(tmp_path: Path) -> None:
    sdn = tmp_path / "sdn.csv"
    sdn.write_text("36,ONLY TWO\n")
    with pytest.raises(EntityFileError, match="columns"):
        load_ofac(sdn)
    sdn.write_text("abc,NAME,-0- \n")
    with pytest.raises(EntityFileError, match="ent_num"):
        load_ofac(sdn)
    sdn.write_text("1,NAME,-0- \n")
    alt = tmp_path / "alt.csv"
    alt.write_text("2,1,aka,OTHER,-0- \n")
    with pytest.raises(EntityFileError, match="unknown ent_num"):
        load_ofac(sdn, alt)
