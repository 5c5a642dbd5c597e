"""Standard Webhooks signatures, verified with the standardwebhooks library itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from pipeline.watchlist import Delivery
from workers.delivery.signing import active_secrets, generate_secret, sign_headers

BODY = '{"alert_id":"a1","type":"alert"}'


def test_generated_secrets_are_whsec_and_usable() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_") and secret != generate_secret()
    headers = sign_headers("a1", BODY, [secret])
    assert Webhook(secret).verify(BODY, headers) == {"alert_id": "a1", "type": "alert"}


def test_headers_carry_the_alert_id_and_a_fresh_timestamp() -> None:
    secret = generate_secret()
    t1 = datetime.now(UTC)
    h1 = sign_headers("a1", BODY, [secret], t1)
    h2 = sign_headers("a1", BODY, [secret], t1 + timedelta(seconds=3))
    assert h1["webhook-id"] == h2["webhook-id"] == "a1"
    assert int(h2["webhook-timestamp"]) - int(h1["webhook-timestamp"]) == 3
    assert h1["webhook-signature"] != h2["webhook-signature"]


def test_tampered_body_does_not_verify() -> None:
    secret = generate_secret()
    headers = sign_headers("a1", BODY, [secret])
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("a1", "a2"), headers)


def test_rotation_sends_both_signatures_and_either_secret_verifies() -> None:
    new, old = generate_secret(), generate_secret()
    delivery = Delivery(
        webhook="https://hooks.example.com/",
        secret=SecretStr(new),
        previous_secret=SecretStr(old),
        previous_secret_expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    secrets = active_secrets(delivery)
    assert secrets == [new, old]
    headers = sign_headers("a1", BODY, secrets)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(BODY, headers)
    assert Webhook(old).verify(BODY, headers)


def test_expired_previous_secret_no_longer_signs() -> None:
    delivery = Delivery(
        webhook="https://hooks.example.com/",
        secret=SecretStr("whsec_bmV3bmV3bmV3"),
        previous_secret=SecretStr("whsec_b2xkb2xkb2xk"),
        previous_secret_expires_at=datetime.now(UTC) - timedelta(seconds=1),
    )
    assert active_secrets(delivery) == ["whsec_bmV3bmV3bmV3"]


def test_no_secret_refuses_to_sign() -> None:
    assert active_secrets(Delivery(webhook="https://x.example/")) == []
    with pytest.raises(ValueError):
        sign_headers("a1", BODY, [])
