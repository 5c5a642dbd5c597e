"""Character n-gram language models (1- to 5-grams, 75 languages) in a compact, mapped store.

Why: lingua's high-accuracy models (1- to 5-grams) are what beat its trigram-only low mode on
short text, but lingua keeps them as hash maps costing 10-45 MB per language (about 1.25 GB
for all 75). The same numbers fit in one sorted array of 64-bit keys (about 170 MB), mapped
read-only from a cache file, so worker processes share the pages and start in milliseconds.

Where the numbers come from: lingua's extension module embeds its models as brotli-compressed
JSON files (``{"language": "AFRIKAANS", "ngrams": {"<num>/<den>": "ngram ngram ...", ...}}``,
one file per language and order; each fraction is P(last character | the others)). Its Rust
``include_dir`` table is a static array of (path, contents) slices whose addresses are
filled in by ELF relocations, so the reader walks the ``R_*_RELATIVE`` relocations of the
``.so`` to find path slices ending in ``.json.br`` and the contents slice that follows each.
This is lingua's private layout (checked for 2.1.x): when it cannot be read, ``load_store``
logs one warning and returns None, and the detector keeps using lingua's own API.

The store: ``key = hash48(ngram) << 16 | language << 8 | q`` where ``q`` quantises
``-ln P`` in steps of ``1 / Q_SCALE`` nats. A header holds the language codes and each
language's unigram total (for the probability of a character it never saw). Built once
(``python -m pipeline.language build-ngrams``, part of ``make setup``; otherwise in a child
process on first use) into ``$WIREWATCH_CACHE_DIR`` (default ``~/.cache/wirewatch``), under a
name keyed by lingua's version, the ``.so``'s size and a digest of its ends and ``FORMAT_VERSION``; written to
a temporary file and renamed, under a file lock so that workers starting together build once.

Scoring (``NgramStore.log_likelihoods``) is a character-level 5-gram language model per
language with back-off: each letter is predicted from up to four preceding letters of its
word; where a language never saw that n-gram, the next shorter context is used at a cost of
``BACKOFF`` nats per step, and a character a language never saw at all costs
ln(0.5 / its unigram total). All look-ups of a text are one ``searchsorted``.
"""

from __future__ import annotations

import bisect
import fcntl
import functools
import json
import logging
import math
import os
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "BACKOFF",
    "FORMAT_VERSION",
    "LayoutError",
    "NgramStore",
    "build_store",
    "cache_path",
    "get_store",
    "lingua_library",
    "load_store",
    "read_models",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAX_ORDER = 5
Q_SCALE = 14.0  # quantisation steps per nat: 255 steps cover ln P down to -18.2
BACKOFF = 1.0  # nats charged per step down to a shorter context (chosen on even lines)
MAX_CHARS = 150  # characters of a text scored: bounds the cost; short text is what needs it
_MAGIC = 0x5757_4E47_0000_0000 | FORMAT_VERSION  # "WWNG" + version
_ORDER_FILES = {
    "unigrams.json.br": 1,
    "bigrams.json.br": 2,
    "trigrams.json.br": 3,
    "quadrigrams.json.br": 4,
    "fivegrams.json.br": 5,
}
_RELATIVE = {62: 8, 183: 1027}  # e_machine -> R_*_RELATIVE: x86-64, aarch64
_MUL = np.uint64(0x9E3779B97F4A7C15)
_SEED = np.uint64(0x243F6A8885A308D3)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_HASH_BITS = 48
_HASH_MAX = np.uint64((1 << _HASH_BITS) - 2)  # so that (hash + 1) << 16 cannot overflow


class LayoutError(RuntimeError):
    """lingua's extension module does not have the layout this reader understands."""


# ---------------------------------------------------------------------------------------------
# Reading lingua's embedded models


def lingua_library() -> Path:
    """Return the path of lingua's compiled extension module (LayoutError if not found)."""
    import importlib.util

    spec = importlib.util.find_spec("lingua")
    if spec is None or not spec.submodule_search_locations:
        raise LayoutError("lingua is not installed")
    for location in spec.submodule_search_locations:
        for candidate in sorted(Path(location).glob("lingua*.so")):
            return candidate
    raise LayoutError("lingua's extension module (lingua*.so) not found")


def _sections(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """Return the ELF64 sections as (type, address, offset, size, entsize)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise LayoutError("not a little-endian ELF64 file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    out = []
    for i in range(shnum):
        fields = struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
        _, kind, _, addr, offset, size, _, _, _, entsize = fields
        out.append((kind, addr, offset, size, entsize))
    return out


def _file_offset(mapped: list[tuple[int, int, int]], starts: list[int], address: int) -> int | None:
    """Return the file offset of a virtual address, None outside the file's sections."""
    i = bisect.bisect_right(starts, address) - 1
    if i >= 0:
        start, offset, size = mapped[i]
        if address < start + size:
            return offset + address - start
    return None


def _embedded_files(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield (file name, compressed bytes) of every ``*.json.br`` file ``include_dir`` embeds."""
    try:
        (machine,) = struct.unpack_from("<H", data, 0x12)
        relative = _RELATIVE.get(machine)
        if relative is None:
            raise LayoutError(f"unsupported machine type {machine}")
        sections = _sections(data)
        # sections loaded from the file (not SHT_NOBITS): address -> file offset
        mapped = sorted((a, o, s) for kind, a, o, s, _ in sections if a and kind != 8)
        offset_of = functools.partial(_file_offset, mapped, [a for a, _, _ in mapped])
        targets: dict[int, int] = {}
        for kind, _, offset, size, _ in sections:
            if kind != 4:  # SHT_RELA
                continue
            rela = np.frombuffer(data, dtype="<u8", count=size // 24 * 3, offset=offset)
            rela = rela.reshape(-1, 3)
            keep = (rela[:, 1] & 0xFFFFFFFF) == relative
            for where, addend in zip(rela[keep, 0].tolist(), rela[keep, 2].tolist(), strict=True):
                targets[where] = addend
        for where, addend in targets.items():
            name_at, slot = offset_of(addend), offset_of(where)
            if name_at is None or slot is None:
                continue
            (name_len,) = struct.unpack_from("<Q", data, slot + 8)
            if not 8 < name_len < 200:
                continue
            name = data[name_at : name_at + name_len]
            if not name.endswith(b".json.br"):
                continue
            body = targets.get(where + 16)
            body_at = offset_of(body) if body is not None else None
            if body_at is None:
                continue
            (body_len,) = struct.unpack_from("<Q", data, slot + 24)
            yield name.decode("utf-8", "replace"), data[body_at : body_at + body_len]
    except (struct.error, IndexError, ValueError) as error:
        raise LayoutError(f"cannot read the extension module: {error}") from error


def read_models(path: Path | None = None) -> Iterator[tuple[str, int, dict[str, str]]]:
    """Yield (language name, order, {"num/den": "ngram ngram ..."}) for every n-gram model.

    Raises LayoutError when the files cannot be found or decoded.
    """
    import brotli

    data = Path(path or lingua_library()).read_bytes()
    seen: set[tuple[str, int]] = set()
    for name, body in _embedded_files(data):
        order = _ORDER_FILES.get(name.rsplit("/", 1)[-1])
        if order is None:
            continue
        try:
            model = json.loads(brotli.decompress(body))
        except (brotli.error, ValueError) as error:
            raise LayoutError(f"cannot decode {name}: {error}") from error
        if not isinstance(model, dict) or not isinstance(model.get("ngrams"), dict):
            raise LayoutError(f"unexpected content in {name}")
        language = str(model.get("language"))
        if (language, order) in seen:
            continue
        seen.add((language, order))
        yield language, order, model["ngrams"]
    if not seen:
        raise LayoutError("no n-gram models found in the extension module")


# ---------------------------------------------------------------------------------------------
# Hashing (the same function at build and at query time)


def _step(state: np.ndarray, codepoints: np.ndarray) -> np.ndarray:
    state = (state ^ codepoints) * _MUL
    return state ^ (state >> np.uint64(29))


def _finish(state: np.ndarray, order: int) -> np.ndarray:
    z = (state ^ np.uint64(order)) * _MIX1
    z = z ^ (z >> np.uint64(32))
    return np.minimum(z >> np.uint64(64 - _HASH_BITS), _HASH_MAX)


def hash_ngrams(codepoints: np.ndarray) -> np.ndarray:
    """Return the 48-bit hashes of the rows of a (count, order) array of code points."""
    rows, order = codepoints.shape
    state = np.full(rows, _SEED, dtype=np.uint64)
    for column in range(order):
        state = _step(state, codepoints[:, column].astype(np.uint64))
    return _finish(state, order)


# ---------------------------------------------------------------------------------------------
# Building the store


def _language_codes() -> dict[str, str]:
    """lingua's language names (``AFRIKAANS``) -> ISO 639-1 codes."""
    from lingua import Language

    return {lang.name: lang.iso_code_639_1.name.lower() for lang in Language.all()}


def _model_keys(order: int, ngrams: dict[str, str], language: int) -> np.ndarray:
    """Return the keys of one model file (one language, one order)."""
    texts: list[str] = []
    q_values: list[int] = []
    counts: list[int] = []
    for fraction, joined in ngrams.items():
        numerator, _, denominator = fraction.partition("/")
        try:
            probability = int(numerator) / int(denominator)
            step = round(-math.log(probability) * Q_SCALE)
        except (ValueError, ZeroDivisionError) as error:
            raise LayoutError(f"bad probability {fraction!r}") from error
        words = joined.split(" ")
        words = [w for w in words if len(w) == order]
        texts.append("".join(words))
        q_values.append(min(max(step, 0), 255))
        counts.append(len(words))
    if not texts:
        return np.zeros(0, dtype=np.uint64)
    codepoints = np.frombuffer("".join(texts).encode("utf-32-le"), dtype="<u4")
    hashes = hash_ngrams(codepoints.reshape(-1, order))
    quantised = np.repeat(np.asarray(q_values, dtype=np.uint64), counts)
    return (hashes << np.uint64(16)) | np.uint64(language << 8) | quantised


def build_store(target: Path, library: Path | None = None) -> dict[str, float]:
    """Build the store from lingua's models and write it atomically to ``target``.

    Returns figures for the build log (entries, languages). Raises LayoutError.
    """
    target.parent.mkdir(parents=True, exist_ok=True)  # fail before the work, not after
    names = _language_codes()
    codes = sorted(set(names.values()))
    index = {code: i for i, code in enumerate(codes)}
    parts: list[np.ndarray] = []
    unigram_totals = np.zeros(len(codes), dtype=np.float64)
    found: set[tuple[str, int]] = set()
    for language, order, ngrams in read_models(library):
        code = names.get(language)
        if code is None:
            raise LayoutError(f"unknown language {language!r}")
        found.add((code, order))
        parts.append(_model_keys(order, ngrams, index[code]))
        if order == 1:
            # each fraction is count / total, reduced: the largest denominator is the total
            unigram_totals[index[code]] = max(int(k.partition("/")[2]) for k in ngrams)
    # every language has unigrams; lingua has no longer n-grams for a few (Chinese, Japanese)
    missing = {(c, 1) for c in codes} - found
    if missing or len(found) < len(codes) * (MAX_ORDER - 1):
        raise LayoutError(f"models missing ({len(found)} found), e.g. {sorted(missing)[:3]}")
    keys = np.concatenate(parts)
    del parts
    keys.sort()
    header = _header(codes, unigram_totals, len(keys))
    trailer = np.asarray([_MAGIC ^ len(keys)], dtype=np.uint64)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            np.save(out, np.concatenate([header, keys, trailer]), allow_pickle=False)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from workers of other users
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return {"entries": float(len(keys)), "languages": float(len(codes))}


def _header(codes: list[str], unigram_totals: np.ndarray, entries: int) -> np.ndarray:
    """Header words: magic, language count, entry count, codes (ASCII), unigram totals."""
    packed = [int.from_bytes(code.encode("ascii").ljust(8, b"\0"), "little") for code in codes]
    head = np.asarray([_MAGIC, len(codes), entries, *packed], dtype=np.uint64)
    return np.concatenate([head, unigram_totals.astype(np.float64).view(np.uint64)])


# ---------------------------------------------------------------------------------------------
# The store


class NgramStore:
    """Mapped n-gram keys plus the header; scores texts for every language at once."""

    def __init__(self, array: np.ndarray) -> None:
        """Wrap a loaded store array; ValueError if it is not a complete store."""
        if array.dtype != np.uint64 or array.ndim != 1 or len(array) < 4:
            raise ValueError("not a store array")
        if int(array[0]) != _MAGIC:
            raise ValueError("bad magic or format version")
        languages, entries = int(array[1]), int(array[2])
        start = 3 + 2 * languages
        if not 0 < languages < 256 or len(array) != start + entries + 1:
            raise ValueError("truncated store")
        if int(array[-1]) != _MAGIC ^ entries:
            raise ValueError("bad trailer")
        raw = [int(v).to_bytes(8, "little").rstrip(b"\0") for v in array[3 : 3 + languages]]
        self.codes: tuple[str, ...] = tuple(code.decode("ascii") for code in raw)
        totals = array[3 + languages : start].view(np.float64)
        if not np.all(totals >= 1):
            raise ValueError("bad unigram totals")
        # a character a language never saw: half an occurrence in its unigram counts
        self.unseen = np.log(0.5 / totals).astype(np.float64)
        self.keys = array[start : start + entries]

    def __len__(self) -> int:
        return len(self.keys)

    def touch(self) -> int:
        """Read one key per page, so that the whole store is resident (returns a checksum)."""
        return int(np.bitwise_xor.reduce(self.keys[::512]))

    def log_likelihoods(self, text: str, backoff: float | None = None) -> np.ndarray | None:
        """Return ln P(text | language) per language (``codes`` order), None without letters.

        Only letters count; any other character ends a word. At most ``MAX_CHARS`` are read.
        ``backoff`` (nats per step to a shorter context) defaults to ``BACKOFF``.
        """
        backoff = BACKOFF if backoff is None else float(backoff)
        codepoints, letters = _letters(text[:MAX_CHARS])
        count = len(codepoints)
        positions = np.flatnonzero(letters)
        if not len(positions):
            return None
        # run[i]: letters of the word up to and including i
        breaks = np.where(letters, -1, np.arange(count))
        run = np.arange(count) - np.maximum.accumulate(breaks)
        longest = np.minimum(run[positions], MAX_ORDER)  # longest n-gram ending at each letter
        # hashes[order - 1, k]: the n-gram of that order ending at letter k (where it exists);
        # after n steps state[i] covers codepoints[i : i + n]
        orders = min(MAX_ORDER, int(longest.max()))
        hashes = np.zeros((MAX_ORDER, len(positions)), dtype=np.uint64)
        state = np.full(count, _SEED, dtype=np.uint64)
        cps = codepoints.astype(np.uint64)
        for order in range(1, orders + 1):
            state = _step(state[: count - order + 1], cps[order - 1 :])
            starts = np.maximum(positions - order + 1, 0)
            hashes[order - 1] = _finish(state, order)[np.minimum(starts, len(state) - 1)]
        present = np.arange(1, MAX_ORDER + 1)[:, None] <= longest[None, :]
        return self._score(hashes, present, longest, backoff)

    def _score(
        self, hashes: np.ndarray, present: np.ndarray, longest: np.ndarray, backoff: float
    ) -> np.ndarray:
        languages = len(self.codes)
        # distinct n-grams, sorted: one search for both ends of every n-gram's range, with
        # sorted needles (numpy narrows each search from the last: far fewer cache misses)
        wanted, inverse = np.unique(hashes[present], return_inverse=True)
        bounds = np.stack([wanted << np.uint64(16), (wanted + np.uint64(1)) << np.uint64(16)], 1)
        low, high = np.searchsorted(self.keys, bounds.reshape(-1)).reshape(-1, 2).T
        lengths = high - low
        total = int(lengths.sum())
        # table[u, language] = -ln P of wanted n-gram u; NaN where the language lacks it, and
        # one extra all-NaN row for n-grams that do not exist (too short a word)
        table = np.full((len(wanted) + 1, languages), np.nan)
        if total:
            rows = np.repeat(np.arange(len(wanted)), lengths)
            first = np.repeat(low - (np.cumsum(lengths) - lengths), lengths)
            found = np.asarray(self.keys[first + np.arange(total)])
            language = ((found >> np.uint64(8)) & np.uint64(0xFF)).astype(np.intp)
            language = np.minimum(language, languages - 1)  # a damaged file cannot index out
            table[rows, language] = (found & np.uint64(0xFF)) / Q_SCALE
        slot = np.full(hashes.shape, len(wanted), dtype=np.intp)
        slot[present] = inverse.reshape(-1)
        # cost of each letter: the longest n-gram a language knows, plus the back-off steps
        steps = (longest[None, :] - np.arange(1, MAX_ORDER + 1)[:, None]) * backoff
        values = table[slot] + steps[:, :, None]  # (order, letter, language)
        known = ~np.isnan(values)
        top = MAX_ORDER - 1 - np.argmax(known[::-1], axis=0)
        cost = np.take_along_axis(values, top[None], axis=0)[0]
        unseen = (longest[:, None] - 1) * backoff - self.unseen[None, :]
        cost = np.where(np.isnan(cost), unseen, cost)
        result: np.ndarray = -cost.sum(axis=0)
        return result


def _letters(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the lower-cased text's code points and which of them are letters."""
    lowered = text.lower()
    encoded = lowered.encode("utf-32-le", "surrogatepass")
    codepoints = np.frombuffer(encoded, dtype="<u4")
    letters = np.fromiter(map(str.isalpha, lowered), dtype=bool, count=len(lowered))
    if len(letters) != len(codepoints):  # cannot happen with surrogatepass; be safe
        size = min(len(letters), len(codepoints))
        codepoints, letters = codepoints[:size], letters[:size]
    return codepoints, letters


# ---------------------------------------------------------------------------------------------
# Cache file and process-wide store


def cache_dir() -> Path:
    """``$WIREWATCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/wirewatch``, else ``~/.cache/wirewatch``."""
    configured = os.environ.get("WIREWATCH_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wirewatch"


def cache_path(library: Path | None = None) -> Path:
    """Return the cache file name for the installed lingua.

    Keyed by lingua's version, the extension's size and a digest of its first and last
    MiB, not its mtime: every fresh virtualenv installs the same file with a new mtime,
    and each would otherwise build (and leave behind) its own 169 MB copy.
    """
    import hashlib
    from importlib.metadata import version

    so = Path(library or lingua_library())
    size = so.stat().st_size
    digest = hashlib.blake2b(digest_size=8)
    with open(so, "rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    lingua_version = version("lingua-language-detector")
    name = f"lingua-ngrams-{lingua_version}-{size}-{digest.hexdigest()}-v{FORMAT_VERSION}.npy"
    return cache_dir() / name


def _open(path: Path) -> NgramStore:
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return NgramStore(array)


def _try_open(path: Path) -> NgramStore | None:
    """Map the store at ``path``; None if it is missing or damaged in any way.

    Deliberately broad: a damaged header makes numpy raise anything from ValueError to
    tokenize errors, and every such file is simply rebuilt.
    """
    try:
        return _open(path)
    except Exception:  # any failure at all: see the docstring
        return None


def _build_in_child(path: Path) -> None:
    """Build the cache file in a child process (the build's transient memory stays there)."""
    subprocess.run(
        [sys.executable, "-m", "pipeline.language", "build-ngrams", "--output", str(path)],
        check=True,
        capture_output=True,
        timeout=600,
    )


def load_store(*, build: bool = True) -> NgramStore | None:
    """Map the store, building (or rebuilding a damaged) cache file first if needed.

    Returns None, after logging one warning, when lingua's layout cannot be read or the
    cache cannot be written: the detector then falls back to lingua's own models.
    """
    try:
        path = cache_path()
    except (LayoutError, OSError, ImportError) as error:
        log.warning("n-gram store unavailable (%s); using lingua's own models", error)
        return None
    store = _try_open(path)
    if store is not None or not build:
        return store
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # workers starting together build it once
            store = _try_open(path)
            if store is None:
                _build_in_child(path)
                store = _try_open(path)
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", b"") or b""
        reason = detail.decode("utf-8", "replace").strip().splitlines()[-1:] or [str(error)]
        log.warning("n-gram store unavailable (%s); using lingua's own models", reason[0])
        return None
    if store is None:
        log.warning("n-gram store unavailable (built but unreadable); using lingua's own models")
    return store


_STORE: list[NgramStore | None] = []
_LOCK = threading.Lock()


def get_store() -> NgramStore | None:
    """Return the process-wide store (None when unavailable), loading it once."""
    if not _STORE:
        with _LOCK:
            if not _STORE:
                _STORE.append(load_store())
    return _STORE[0]


def main(argv: list[str]) -> int:
    """``build [--output PATH]``: build the cache file (default: the cache path)."""
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m pipeline.language")
    parser.add_argument("command", choices=["build"], help="build the store (build-ngrams from the package)")
    parser.add_argument("--output", help="where to write the store (default: the cache path)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the file is valid")
    parser.add_argument(
        "--optional",
        action="store_true",
        help="exit 0 when the store cannot be built (the detector falls back to lingua)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        target = Path(args.output) if args.output else cache_path()
        if not args.force and args.output is None and _try_open(target) is not None:
            print(f"n-gram store up to date: {target}")
            return 0
        figures: dict[str, Any] = build_store(target)
    except (LayoutError, OSError) as error:
        print(f"cannot build the n-gram store: {error}", file=sys.stderr)
        if args.optional:
            print("the language detector will use lingua's own models", file=sys.stderr)
            return 0
        return 2
    size = target.stat().st_size / 1e6
    elapsed = time.monotonic() - started
    print(
        f"n-gram store: {int(figures['entries'])} entries, {int(figures['languages'])} languages, "
        f"{size:.0f} MB, built in {elapsed:.1f} s: {target}"
    )
    return 0

