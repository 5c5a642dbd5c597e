"""Webhook delivery a subscriber can trust: signed, retried for over a day, SSRF-safe,
every attempt on record.

``submit`` is what the emit task calls for each alert of a watchlist with a
webhook; ``run_scheduler`` drains due retries (``wirewatch up`` runs it; deliver
workers run it in a thread); ``replay`` starts a delivery again.
"""

from __future__ import annotations

from typing import Any

from pipeline.models import DeadLetter
from workers.delivery.drainer import drain_once, run_scheduler
from workers.delivery.job import STAGE, attempt, replay, replay_dead_letter, submit
from workers.delivery.ssrf import ForbiddenURL, check_url_static
from workers.dlq import register_replayer
from workers.keys import Keys


def _replay_from_dlq(client: Any, keys: Keys, entry: DeadLetter) -> None:
    """Hand ``deliver``-stage dead letters back to webhook delivery (``wirewatch dlq replay``)."""
    from workers.settings import get_settings

    settings = get_settings()
    if settings.prefix != keys.prefix:
        settings = settings.model_copy(update={"prefix": keys.prefix})
    replay_dead_letter(client, settings, entry)


register_replayer(STAGE, _replay_from_dlq)

__all__ = [
    "ForbiddenURL",
    "attempt",
    "check_url_static",
    "drain_once",
    "replay",
    "replay_dead_letter",
    "run_scheduler",
    "submit",
]
