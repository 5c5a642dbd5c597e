"""Workers survive a Redis restart: kombu's unacked restore on a detached connection.

kombu 5.7.0 crashed the worker ("Unrecoverable error: AttributeError: 'NoneType' object has
no attribute 'hostname'") when a channel closed after its transport had been detached from
the connection; ``workers.app`` makes that restore a logged no-op.
"""

from __future__ import annotations

import pytest
from kombu import Connection

import workers.app  # noqa: F401 - installs the workaround

pytestmark = pytest.mark.integration


def test_closing_a_detached_channel_with_unacked_messages_does_not_raise(redis_url: str) -> None:
    conn = Connection(redis_url)
    channel = conn.default_channel
    payload = channel.prepare_message("{}")
    payload["properties"]["delivery_tag"] = "tag-1"
    payload["properties"]["delivery_info"] = {"exchange": "clean", "routing_key": "clean"}
    message = channel.Message(payload, channel=channel)
    channel.qos.append(message, "tag-1")  # a delivered, unacknowledged message
    conn._do_close_transport()  # what a connection loss leaves behind: transport.client None
    assert channel.connection.client is None
    channel._pool = None  # the pool is rebuilt after a connection error
    channel.qos.restore_unacked_once()  # raised AttributeError before the workaround
    assert not channel.qos._delivered


def test_the_crash_is_still_there_without_the_workaround(redis_url: str) -> None:
    """Drop the workaround (and this test) once kombu no longer needs it."""
    from kombu.transport import redis as kombu_redis

    original = kombu_redis.QoS.restore_unacked.__wrapped__  # type: ignore[attr-defined]
    conn = Connection(redis_url)
    channel = conn.default_channel
    conn._do_close_transport()
    channel._pool = None
    with pytest.raises(AttributeError, match="hostname"):
        original(channel.qos)
