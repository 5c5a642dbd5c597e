"""Chains, routes and Celery reliability options, without a broker."""

from __future__ import annotations

from pipeline.flow import STAGES
from workers.app import ROUTES, app
from workers.keys import QUEUES
from workers.stages.tasks import TASK_ORDER, build_chain


def test_tasks_follow_the_stage_order() -> None:
    assert STAGES == ("clean", "language", "entities", "story", "match")
    assert TASK_ORDER == (
        "articles.clean", "articles.detect_language", "articles.tag_entities", "articles.match", "articles.emit",
    )  # fmt: skip
    for name in TASK_ORDER:
        assert name in app.tasks


def test_every_task_is_routed_to_a_known_queue() -> None:
    router = app.amqp.router
    for name in TASK_ORDER:
        queue = router.route({}, name)["queue"].name
        assert queue in QUEUES
    assert {r["queue"] for r in ROUTES.values()} <= set(QUEUES)
    assert router.route({}, "articles.tag_entities")["queue"].name == "nlp"


def test_chain_carries_the_batch_from_any_stage() -> None:
    batch = {"batch_id": "b", "items": []}
    full = build_chain(batch)
    assert [t.task for t in full.tasks] == list(TASK_ORDER)
    assert full.tasks[0].args == (batch,)
    tail = build_chain(batch, start="articles.match")
    assert [t.task for t in tail.tasks] == ["articles.match", "articles.emit"]


def test_reliability_options() -> None:
    conf = app.conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.task_soft_time_limit < conf.task_time_limit
