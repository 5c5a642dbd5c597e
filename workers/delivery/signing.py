"""Sign webhook requests the Standard Webhooks way.

``webhook-id`` is the alert id (the same on every retry, so subscribers can drop
duplicates), ``webhook-timestamp`` is fresh per attempt (receivers reject
messages older than a few minutes), ``webhook-signature`` is ``v1,<base64
HMAC-SHA256>`` over ``id.timestamp.body`` with the subscription's ``whsec_``
secret. During a secret rotation both the new and the previous secret sign,
space-separated, so a subscriber can switch its secret at any moment.
"""

from __future__ import annotations

import base64
import secrets as _secrets
from datetime import UTC, datetime

from standardwebhooks import Webhook

from pipeline.watchlist import Delivery

__all__ = ["active_secrets", "generate_secret", "sign_headers"]

USER_AGENT = "wirewatch-webhooks/1"


def generate_secret() -> str:
    """Return a new random ``whsec_`` secret (24 random bytes, base64)."""
    return "whsec_" + base64.b64encode(_secrets.token_bytes(24)).decode("ascii")


def active_secrets(delivery: Delivery, now: datetime | None = None) -> list[str]:
    """Return the secrets that sign right now: the current one, then the previous one
    while its rotation window is open."""
    now = now or datetime.now(UTC)
    out: list[str] = []
    if delivery.secret is not None and delivery.secret.get_secret_value():
        out.append(delivery.secret.get_secret_value())
    if delivery.previous_secret is not None and delivery.previous_secret.get_secret_value():
        expires = delivery.previous_secret_expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires is None or expires > now:
            out.append(delivery.previous_secret.get_secret_value())
    return out


def sign_headers(
    msg_id: str, body: str, secrets: list[str], now: datetime | None = None
) -> dict[str, str]:
    """Return the ``webhook-*`` headers for one attempt; raise ``ValueError`` with no secret."""
    if not secrets:
        raise ValueError("the subscription has no signing secret")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    signatures = " ".join(Webhook(s).sign(msg_id=msg_id, timestamp=now, data=body) for s in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
