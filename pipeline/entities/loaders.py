"""Read knowledge-base entries from files: CSV/YAML lists and the OFAC SDN legacy CSV pair.

Every reader raises ``EntityFileError`` (a ``ValueError``) naming the file and
the row for input it cannot use, and never loads more than ``MAX_ENTRIES``
entries or ``MAX_BYTES`` bytes, so a hostile file fails clearly instead of
exhausting memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.entities.kb import EntityEntry

__all__ = [
    "MAX_BYTES",
    "MAX_ENTRIES",
    "EntityFileError",
    "load_entries",
    "load_file",
    "load_ofac",
    "looks_like_ofac",
    "parse_entries",
]

MAX_ENTRIES = 2_000_000
MAX_BYTES = 512 * 1024 * 1024
_TYPES = {"PERSON", "ORG", "LOC", "MISC"}
_TYPE_ALIASES = {
    "PER": "PERSON",
    "INDIVIDUAL": "PERSON",
    "ORGANIZATION": "ORG",
    "ORGANISATION": "ORG",
    "ENTITY": "ORG",
    "PLACE": "LOC",
    "LOCATION": "LOC",
    "GPE": "LOC",
}
_OFAC_EMPTY = "-0-"


class EntityFileError(ValueError):
    """An entity file that cannot be loaded; the message names the file and the row."""


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise EntityFileError(f"{path}: cannot read ({exc.strerror})") from exc
    if size > MAX_BYTES:
        raise EntityFileError(f"{path}: {size} bytes is more than the {MAX_BYTES} allowed")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise EntityFileError(f"{path}: binary data (NUL bytes) in an entity file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # the OFAC legacy files predate UTF-8


def _entry(row: dict[str, Any], where: str) -> EntityEntry:
    if not isinstance(row, dict):
        raise EntityFileError(f"{where}: expected a mapping with id, name, type, aliases")
    aliases = row.get("aliases") or []
    if isinstance(aliases, str):
        aliases = [a.strip() for a in aliases.split("|") if a.strip()]
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise EntityFileError(
            f"{where}: aliases must be a list of strings or a '|'-separated string"
        )
    etype = str(row.get("type") or "MISC").strip().upper()
    etype = _TYPE_ALIASES.get(etype, etype)
    if etype not in _TYPES:
        raise EntityFileError(
            f"{where}: type {row.get('type')!r} is not one of PERSON, ORG, LOC, MISC"
        )
    try:
        return EntityEntry(
            id=str(row.get("id") or "").strip(),
            name=str(row.get("name") or "").strip(),
            type=etype,  # type: ignore[arg-type]
            aliases=[a.strip() for a in aliases if a.strip()],
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise EntityFileError(f"{where}: {problems}") from exc


def parse_entries(data: Any, source: str = "<entries>") -> list[EntityEntry]:
    """Validate already-parsed YAML/JSON data: a list of entries or ``{entities: [...]}``."""
    if isinstance(data, dict) and "entities" in data:
        data = data["entities"]
    if not isinstance(data, list):
        raise EntityFileError(
            f"{source}: expected a list of entities (or a mapping with 'entities')"
        )
    if len(data) > MAX_ENTRIES:
        raise EntityFileError(f"{source}: more than {MAX_ENTRIES} entries")
    return [_entry(row, f"{source}: entry {n + 1}") for n, row in enumerate(data)]


def load_entries(path: str | Path) -> list[EntityEntry]:
    """Load a CSV (header ``id,name,type,aliases``; aliases ``|``-separated) or YAML file."""
    path = Path(path)
    text = _read_text(path)
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise EntityFileError(f"{path}: not valid YAML ({exc})") from exc
        return parse_entries(data, str(path))
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"id", "name"} <= {f.strip() for f in reader.fieldnames}:
        raise EntityFileError(
            f"{path}: CSV needs a header with at least id,name (and type, aliases)"
        )
    entries = []
    for n, row in enumerate(reader, start=2):
        if n > MAX_ENTRIES + 1:
            raise EntityFileError(f"{path}: more than {MAX_ENTRIES} entries")
        clean = {(k or "").strip(): v for k, v in row.items()}
        entries.append(_entry(clean, f"{path}: line {n}"))
    return entries


def _ofac_rows(path: Path, width: int) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(_read_text(path)))
    for n, row in enumerate(reader, start=1):
        if not row or (len(row) == 1 and not row[0].strip()) or row[0].startswith("\x1a"):
            continue  # blank lines and the DOS end-of-file marker of the legacy files
        if len(row) < width:
            raise EntityFileError(
                f"{path}: line {n}: expected at least {width} columns, got {len(row)}"
            )
        if n > MAX_ENTRIES:
            raise EntityFileError(f"{path}: more than {MAX_ENTRIES} rows")
        yield n, [c.strip() for c in row]


def _ofac_value(value: str) -> str:
    return "" if value == _OFAC_EMPTY else value


def load_ofac(sdn_path: str | Path, alt_path: str | Path | None = None) -> list[EntityEntry]:
    """Load the OFAC SDN legacy CSV pair (``sdn.csv``, ``alt.csv``; no header rows).

    Ids are ``ofac:<ent_num>``; individuals become PERSON (names stay as listed,
    ``LAST, First``: variant generation reorders them), vessels and aircraft
    MISC, everything else ORG. ``alt.csv`` rows (aka/fka/nka) become aliases.
    """
    sdn_path = Path(sdn_path)
    rows: dict[str, tuple[str, str]] = {}
    for n, row in _ofac_rows(sdn_path, 3):
        ent_num, name, sdn_type = row[0], _ofac_value(row[1]), _ofac_value(row[2]).lower()
        if not ent_num.isdigit() or not name:
            raise EntityFileError(f"{sdn_path}: line {n}: expected ent_num and name")
        etype = {"individual": "PERSON", "vessel": "MISC", "aircraft": "MISC"}.get(sdn_type, "ORG")
        rows[ent_num] = (name, etype)
    aliases: dict[str, list[str]] = {}
    if alt_path is not None:
        alt_path = Path(alt_path)
        for n, row in _ofac_rows(alt_path, 4):
            ent_num, alt_name = row[0], _ofac_value(row[3])
            if ent_num not in rows:
                raise EntityFileError(
                    f"{alt_path}: line {n}: alias for unknown ent_num {ent_num!r}"
                )
            if alt_name:
                aliases.setdefault(ent_num, []).append(alt_name)
    return [
        EntityEntry(id=f"ofac:{num}", name=name, type=etype, aliases=aliases.get(num, []))  # type: ignore[arg-type]
        for num, (name, etype) in rows.items()
    ]


def looks_like_ofac(path: str | Path) -> bool:
    """Whether ``path`` is an OFAC SDN legacy CSV: no header, a numeric ``ent_num`` first.

    Its first non-blank row has at least three columns and starts with digits
    (``36,"AEROCARIBBEAN AIRLINES",-0-,...``); our own CSV has an ``id,name`` header.
    """
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return False
    try:
        with path.open("r", encoding="latin-1") as handle:
            for line in handle:
                if line.strip():
                    row = next(csv.reader([line]))
                    return len(row) >= 3 and row[0].strip().isdigit()
    except OSError:
        return False
    return False


def load_file(path: str | Path, alt_path: str | Path | None = None) -> list[EntityEntry]:
    """Load any entity file ``wirewatch entities import`` reads, telling the format by content.

    An OFAC SDN CSV (``looks_like_ofac``) takes its aliases from ``alt_path``, else from
    an ``alt.csv`` next to it when there is one; anything else goes to ``load_entries``.
    """
    path = Path(path)
    if looks_like_ofac(path):
        if alt_path is None and (path.parent / "alt.csv").is_file() and path.name != "alt.csv":
            alt_path = path.parent / "alt.csv"
        return load_ofac(path, alt_path)
    return load_entries(path)
