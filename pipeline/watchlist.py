"""Watchlists as declared in YAML (``wirewatch watchlist apply FILE``).

A file declares optional knowledge-base ``entities`` and the ``watchlists``::

    entities:
      - {id: kp-kim, name: Kim Jong Un, type: PERSON, aliases: [Kim Jong-un]}
    watchlists:
      - id: dprk-missiles
        name: North Korean missile tests
        query: 'entity:kp-kim AND (missile* OR "nuclear test") AND NOT title:football'
        languages: [en, fr]              # optional: only these detected languages
        sources: {exclude: [tabloid.example]}   # optional: include / exclude domains
        min_salience: 0.2                # optional: entity clauses need this salience
        delivery: {webhook: "https://hooks.example.com/x", secret: "whsec_..."}
        labels: [asia, defence]
        enabled: true

The models only check shape; the query itself is compiled (and refused with a
position) by ``pipeline.matching.compile_watchlist`` when the file is applied.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from pipeline.entities.kb import EntityEntry
from pipeline.errors import PermanentError

__all__ = ["MAX_FILE_CHARS", "Delivery", "Watchlist", "WatchlistFile", "parse_watchlists"]

MAX_FILE_CHARS = 20_000_000  # a file of 100,000 watchlists is about 10 MB
_LANG = re.compile(r"[a-z]{2,3}")
_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


class Delivery(BaseModel):
    """Where alerts go: a webhook URL with its ``whsec_`` secret, or the alerts stream only.

    During a secret rotation ``previous_secret`` stays valid (both signatures are
    sent) until ``previous_secret_expires_at``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    webhook: str | None = None
    secret: SecretStr | None = None
    previous_secret: SecretStr | None = None
    previous_secret_expires_at: datetime | None = None

    @field_validator("secret", "previous_secret")
    @classmethod
    def _standard_webhooks_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("whsec_"):
            raise ValueError("a webhook secret must start with whsec_ (Standard Webhooks)")
        return value


class Watchlist(BaseModel):
    """One subscriber's watchlist: a query, optional filters, and where its alerts go."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field(default="", max_length=512)
    query: str = Field(min_length=1)
    languages: list[str] = Field(default_factory=list, max_length=100)
    sources: dict[str, list[str]] = Field(default_factory=dict)
    min_salience: float = Field(default=0.0, ge=0.0, le=1.0)
    delivery: Delivery = Field(default_factory=Delivery)
    labels: list[str] = Field(default_factory=list, max_length=100)
    enabled: bool = True

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        codes = [code.strip().lower() for code in value]
        bad = [c for c in codes if not _LANG.fullmatch(c)]
        if bad:
            raise ValueError(f"languages must be ISO 639-1 codes like en or und, not {bad[0]!r}")
        return codes

    @field_validator("sources")
    @classmethod
    def _source_domains(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - {"include", "exclude"})
        if unknown:
            raise ValueError(f"sources takes include and exclude, not {unknown[0]!r}")
        out = {}
        for key, domains in value.items():
            clean = [d.strip().lower().removeprefix("www.").strip(".") for d in domains]
            bad = [d for d in clean if not _DOMAIN.fullmatch(d)]
            if bad:
                raise ValueError(
                    f"sources.{key}: expected domains like reuters.com, not {bad[0]!r}"
                )
            out[key] = clean
        return out


class WatchlistFile(BaseModel):
    """A YAML document: declared entities and watchlists."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entities: list[EntityEntry] = Field(default_factory=list)
    watchlists: list[Watchlist] = Field(default_factory=list)


def _readable(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
        for err in exc.errors()[:10]
    )


def parse_watchlists(text: str) -> WatchlistFile:
    """Parse a watchlist YAML document; raise ``PermanentError`` with a readable reason.

    YAML anchors and aliases are refused: nested aliases expand exponentially when the
    document is validated (the "billion laughs" attack), and hand-written watchlist
    files have no need for them.
    """
    if len(text) > MAX_FILE_CHARS:
        raise PermanentError(
            f"watchlist YAML is larger than {MAX_FILE_CHARS} characters", reason="bad_yaml"
        )
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark
                where = f" (line {mark.line + 1})" if mark is not None else ""
                raise PermanentError(
                    f"watchlist YAML uses an alias{where}; anchors and aliases are not supported",
                    reason="bad_yaml",
                )
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PermanentError(f"watchlist YAML does not parse: {exc}", reason="bad_yaml") from exc
    if data is not None and not isinstance(data, dict):
        raise PermanentError(
            "watchlist YAML must be a mapping with `watchlists:` (and optionally `entities:`)",
            reason="bad_watchlist",
        )
    try:
        return WatchlistFile.model_validate(data or {})
    except ValidationError as exc:
        raise PermanentError(
            f"watchlist YAML is invalid: {_readable(exc)}", reason="bad_watchlist"
        ) from exc
