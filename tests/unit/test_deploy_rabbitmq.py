"""The RabbitMQ variants: compose override, Kubernetes overlay, and the app's broker options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from workers.keys import QUEUES

ROOT = Path(__file__).resolve().parents[2]
OVERRIDE = ROOT / "docker-compose.rabbitmq.yml"
OVERLAY = ROOT / "deploy" / "kubernetes" / "rabbitmq"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_compose_override_is_valid_against_the_compose_specification() -> None:
    tool = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(OVERRIDE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_wirewatch_service_uses_rabbitmq_in_the_override() -> None:
    base = _yaml(ROOT / "docker-compose.yml")["services"]
    override = _yaml(OVERRIDE)["services"]
    wirewatch = {name for name, s in base.items() if s.get("image") == "wirewatch:latest"}
    assert wirewatch, "no wirewatch services in docker-compose.yml"
    for name in wirewatch:
        service = override.get(name, {})
        assert (
            service.get("environment", {}).get("WIREWATCH_BROKER_URL", "").startswith("amqp://")
        ), name
        assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy", name


def test_kubernetes_overlay_adds_rabbitmq_to_the_base() -> None:
    kustomization = _yaml(OVERLAY / "kustomization.yaml")
    assert set(kustomization["resources"]) == {"../", "rabbitmq.yaml"}
    docs = list(yaml.safe_load_all((OVERLAY / "rabbitmq.yaml").read_text()))
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert secret["stringData"]["WIREWATCH_BROKER_URL"].startswith("amqp://")
    (patch,) = kustomization["patches"]
    ops = yaml.safe_load(patch["patch"])
    assert ops[0]["value"]["secretRef"]["name"] == secret["metadata"]["name"]


def test_amqp_brokers_get_quorum_queues_and_publisher_confirms() -> None:
    from workers.app import _rabbitmq_options

    options = _rabbitmq_options("amqp://guest:guest@rabbit.example:5672//")
    queues = {q.name: q for q in options["task_queues"]}
    assert set(queues) == set(QUEUES)
    assert all(q.queue_arguments == {"x-queue-type": "quorum"} for q in queues.values())
    assert all(q.exchange.type == "topic" for q in queues.values())  # native delayed delivery
    assert options["broker_transport_options"]["confirm_publish"] is True
    assert _rabbitmq_options("redis://127.0.0.1:6379/0") == {}
