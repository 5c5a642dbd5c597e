"""Watchlists as declared in YAML.

FIRST VERSION (placeholder to be deepened).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from pipeline.entities.kb import EntityEntry
from pipeline.errors import PermanentError

__all__ = ["Delivery", "Watchlist", "WatchlistFile", "parse_watchlists"]


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


class Watchlist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = ""
    query: str = Field(min_length=1)
    languages: list[str] = Field(default_factory=list)
    sources: dict[str, list[str]] = Field(default_factory=dict)
    min_salience: float = 0.0
    delivery: Delivery = Field(default_factory=Delivery)
    labels: list[str] = Field(default_factory=list)
    enabled: bool = True


class WatchlistFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    entities: list[EntityEntry] = Field(default_factory=list)
    watchlists: list[Watchlist] = Field(default_factory=list)


def parse_watchlists(text: str) -> WatchlistFile:
    """Parse a watchlist YAML document; raise ``PermanentError`` with a readable reason."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PermanentError(f"watchlist YAML does not parse: {exc}", reason="bad_yaml") from exc
    try:
        return WatchlistFile.model_validate(data or {})
    except ValidationError as exc:
        raise PermanentError(f"watchlist YAML is invalid: {exc}", reason="bad_watchlist") from exc
