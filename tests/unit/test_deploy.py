"""Deployment material: compose, Kubernetes, Redis settings, image, against the real CLI.

Everything here runs offline: the compose specification is vendored in
check-jsonschema and the Kubernetes schemas ship in kubernetes-validate.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from workers.keys import QUEUES, Keys
from workers.runtime.commands import FLOWER_ARGV, WORKER_GROUPS, ingest_argv, worker_argv
from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
KEDA = K8S / "autoscaling" / "keda.yaml"
K8S_VERSION = "1.30"
REDIS_SETTINGS = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "maxmemory-policy": "noeviction",
}


def _venv_tool(name: str) -> str:
    tool = Path(sys.executable).parent / name
    assert tool.exists(), f"{name} is missing from the virtualenv (dev dependency)"
    return str(tool)


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


@cache
def _load_k8s() -> tuple[tuple[Path, dict[str, Any]], ...]:
    """Parse every manifest once (callers must not mutate; deep-copy first)."""
    return tuple(
        (path, doc)
        for path in sorted(K8S.rglob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    )


def _k8s_docs(*, include_keda: bool = False) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path, doc in _load_k8s():
        if path != KEDA or include_keda:
            yield path, doc


def _k8s(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in _k8s_docs() if d["kind"] == kind}


def _keda(kind: str) -> dict[str, dict[str, Any]]:
    docs = [d for path, d in _load_k8s() if path == KEDA]
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _container_argv(deployment: dict[str, Any]) -> list[str]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return list(container.get("command", [])) + list(container.get("args", []))


def _parse_redis_args(args: list[str]) -> dict[str, str]:
    """Turn ``--key value`` pairs of a redis-server command line into a dict."""
    settings: dict[str, str] = {}
    it = iter(args)
    for token in it:
        if token.startswith("--"):
            settings[token[2:]] = str(next(it))
    return settings


def _parse_redis_conf(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            settings[key.lower()] = value.strip()
    return settings


def _parse_cli(argv: list[str]) -> dict[str, Any]:
    """Parse a deployed ``wirewatch ...`` argv with the real click command; return its params.

    Parsing (not running) proves every option and value is one the CLI accepts.
    """
    from workers.cli import main

    assert argv[0] == "wirewatch", argv
    name, *rest = argv[1:]
    with click.Context(main) as parent:
        command = main.get_command(parent, name)
        assert command is not None, f"`wirewatch {name}` is not a command"
        ctx = command.make_context(name, list(rest), parent=parent)
        return dict(ctx.params)


def _queues_of(params: dict[str, Any]) -> list[str]:
    value = params["queues"]
    items = value if isinstance(value, list | tuple) else [value]
    return [q.strip() for item in items for q in str(item).split(",") if q.strip()]


# --- docker-compose.yml ------------------------------------------------------------------


def test_compose_is_valid_against_the_compose_specification() -> None:
    result = subprocess.run(
        [_venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_validation_rejects_an_invalid_file(tmp_path: Path) -> None:
    broken = _compose()
    broken["services"]["worker-nlp"]["replicas_please"] = 4
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    result = subprocess.run(
        [_venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "replicas_please" in result.stdout + result.stderr


def test_compose_redis_is_durable_and_never_evicts() -> None:
    redis = _services()["redis"]
    assert redis["image"].startswith("redis:7")
    command = redis["command"]
    assert command[0] == "redis-server"
    settings = _parse_redis_args(command[1:])
    for key, value in REDIS_SETTINGS.items():
        assert settings.get(key) == value, f"compose redis: {key} should be {value}"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert any(str(v).endswith(":/data") for v in redis["volumes"]), "AOF needs a volume on /data"
    assert set(_compose()["volumes"]) >= {v.split(":")[0] for v in redis["volumes"]}


def test_compose_services_wait_for_healthy_redis() -> None:
    for name, service in _services().items():
        if name == "redis":
            continue
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert service["environment"]["WIREWATCH_REDIS_URL"].startswith("redis://redis:6379")


def test_compose_worker_services_can_scale() -> None:
    workers = {n: s for n, s in _services().items() if n.startswith("worker-")}
    assert workers
    for name, service in workers.items():
        assert "container_name" not in service, f"{name}: a fixed name breaks --scale"
        assert "ports" not in service, f"{name}: a fixed host port breaks --scale"


def test_compose_image_is_built_from_the_deploy_dockerfile() -> None:
    for name, service in _services().items():
        if name == "redis":
            continue
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_compose_commands_are_the_ones_the_tests_run() -> None:
    services = _services()
    workers = {n for n in services if n.startswith("worker-")}
    assert workers == {f"worker-{group}" for group in WORKER_GROUPS}
    for group in WORKER_GROUPS:
        assert services[f"worker-{group}"]["command"] == worker_argv(group)
    assert services["ingest"]["command"] == ingest_argv()
    assert services["flower"]["command"] == list(FLOWER_ARGV)


# --- deploy/redis.conf -------------------------------------------------------------------


def test_redis_conf_is_durable_and_never_evicts() -> None:
    settings = _parse_redis_conf((DEPLOY / "redis.conf").read_text())
    for key, value in REDIS_SETTINGS.items():
        assert settings.get(key) == value, f"deploy/redis.conf: {key} should be {value}"
    assert settings.get("dir") == "/data"


def test_kubernetes_redis_runs_deploy_redis_conf() -> None:
    config = _k8s("ConfigMap")["redis-config"]
    assert config["data"]["redis.conf"] == (DEPLOY / "redis.conf").read_text()
    statefulset = _k8s("StatefulSet")["redis"]
    pod = statefulset["spec"]["template"]["spec"]
    redis = next(c for c in pod["containers"] if c["name"] == "redis")
    conf_mount = next(m for m in redis["volumeMounts"] if m["name"] == "config")
    assert redis["args"][0] == f"{conf_mount['mountPath']}/redis.conf"
    volume = next(v for v in pod["volumes"] if v["name"] == "config")
    assert volume["configMap"]["name"] == "redis-config"
    overrides = _parse_redis_args(redis["args"][1:])
    assert not set(overrides) & set(REDIS_SETTINGS), "args must not override the durable settings"
    data_mount = next(m for m in redis["volumeMounts"] if m["name"] == "data")
    assert data_mount["mountPath"] == "/data"
    assert [t["metadata"]["name"] for t in statefulset["spec"]["volumeClaimTemplates"]] == ["data"]


# --- commands against the real CLI -------------------------------------------------------


@pytest.mark.parametrize("group", sorted(WORKER_GROUPS))
def test_worker_commands_parse_with_the_real_cli(group: str) -> None:
    params = _parse_cli(worker_argv(group, concurrency=3))
    assert _queues_of(params) == list(WORKER_GROUPS[group])
    assert int(params["concurrency"]) == 3


def test_ingest_command_parses_with_the_real_cli() -> None:
    _parse_cli(ingest_argv())


def test_unknown_worker_options_are_rejected_by_the_cli() -> None:
    with pytest.raises(click.UsageError):
        _parse_cli(["wirewatch", "worker", "--queues", "clean", "--no-such-option"])


def test_worker_groups_cover_every_queue_exactly_once() -> None:
    consumed = [q for queues in WORKER_GROUPS.values() for q in queues]
    assert sorted(consumed) == sorted(QUEUES)


def test_worker_argv_rejects_unknown_groups() -> None:
    with pytest.raises(ValueError, match="unknown worker group"):
        worker_argv("nope")
    with pytest.raises(ValueError, match="concurrency"):
        worker_argv("clean", concurrency=0)


def test_every_queue_is_consumed_in_compose_and_kubernetes() -> None:
    compose_queues = {
        q
        for name, s in _services().items()
        if name.startswith("worker-")
        for q in _queues_of(_parse_cli(s["command"]))
    }
    assert compose_queues == set(QUEUES)
    k8s_queues = {
        q
        for name, d in _k8s("Deployment").items()
        if name.startswith("worker-")
        for q in _queues_of(_parse_cli(_container_argv(d)))
    }
    assert k8s_queues == set(QUEUES)


def test_tests_start_workers_through_worker_argv() -> None:
    """Integration and e2e tests must build worker commands with ``worker_argv``.

    A hand-written ``worker --queues`` in a test would let compose and the tests
    drift apart; this fails if one appears.
    """
    pattern = re.compile(r"""["']worker["']\s*,\s*["']--queues["']|wirewatch worker --queues""")
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.resolve() != Path(__file__).resolve() and pattern.search(path.read_text())
    ]
    assert not offenders, f"use workers.runtime.commands.worker_argv in: {offenders}"


# --- Kubernetes --------------------------------------------------------------------------


def test_kubernetes_manifests_validate_against_the_schemas() -> None:
    import kubernetes_validate

    checked = 0
    for path, doc in _k8s_docs():
        if doc["kind"] == "Kustomization":
            continue  # a kustomize file, not an API object; covered by the next test
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name}: {doc['kind']}/{doc['metadata']['name']}: {exc.message}")
        checked += 1
    assert checked >= 10


def test_kubernetes_validation_rejects_an_invalid_manifest() -> None:
    import kubernetes_validate

    deployment = copy.deepcopy(_k8s("Deployment")["worker-nlp"])
    deployment["spec"]["template"]["spec"]["containers"][0]["replicas_please"] = 4
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    for _, doc in _k8s_docs():
        if doc["kind"] not in {"Kustomization", "Namespace"}:
            assert doc["metadata"]["namespace"] == kustomization["namespace"]


def test_kubernetes_worker_deployments_run_worker_argv() -> None:
    deployments = _k8s("Deployment")
    assert {n for n in deployments if n.startswith("worker-")} == {
        f"worker-{g}" for g in WORKER_GROUPS
    }
    for group in WORKER_GROUPS:
        argv = _container_argv(deployments[f"worker-{group}"])
        params = _parse_cli(argv)
        assert argv == worker_argv(group, concurrency=int(params["concurrency"]))
    assert _container_argv(deployments["ingest"]) == ingest_argv()
    assert _container_argv(deployments["flower"]) == list(FLOWER_ARGV)


def test_kubernetes_containers_have_resources_and_probes() -> None:
    workloads = {**_k8s("Deployment"), **_k8s("StatefulSet")}
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), where
            if container["name"] != "exporter":
                assert "livenessProbe" in container and "readinessProbe" in container, where


def test_kubernetes_env_references_exist() -> None:
    config_maps, secrets = _k8s("ConfigMap"), _k8s("Secret")
    for name, workload in {**_k8s("Deployment"), **_k8s("StatefulSet")}.items():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps, name
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, name
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]]["stringData"], name


def test_wirewatch_env_names_are_settings_fields() -> None:
    fields = {f"WIREWATCH_{name.upper()}" for name in Settings.model_fields}
    names: set[str] = set()
    for service in _services().values():
        names |= set(service.get("environment", {}))
    for kind in ("ConfigMap", "Secret"):
        for doc in _k8s(kind).values():
            names |= set(doc.get("data", {})) | set(doc.get("stringData", {}))
    wirewatch_names = {n for n in names if n.startswith("WIREWATCH_")}
    assert wirewatch_names, "no WIREWATCH_* settings found"
    assert wirewatch_names <= fields, f"unknown settings: {sorted(wirewatch_names - fields)}"


def _queue_list(queue: str) -> str:
    """Return the Redis list holding ``queue`` for the prefix the manifests configure."""
    prefix = _k8s("ConfigMap")["wirewatch-config"]["data"]["WIREWATCH_PREFIX"]
    return Keys(prefix).celery_queue(queue)


def test_queue_list_names_are_the_ones_the_broker_writes() -> None:
    from workers.app import app

    key_prefix = app.conf.broker_transport_options.get("global_keyprefix", "")
    default_prefix = Settings.model_fields["prefix"].default
    for queue in QUEUES:
        assert Keys(default_prefix).celery_queue(queue) == key_prefix + queue


def test_redis_exporter_watches_every_queue() -> None:
    pod = _k8s("StatefulSet")["redis"]["spec"]["template"]["spec"]
    exporter = next(c for c in pod["containers"] if c["name"] == "exporter")
    env = {e["name"]: e.get("value", "") for e in exporter["env"]}
    watched = set(env["REDIS_EXPORTER_CHECK_SINGLE_KEYS"].split(","))
    assert watched == {_queue_list(q) for q in QUEUES}


# --- KEDA (a custom resource: no schema ships with kubernetes-validate) ------------------


def test_keda_scales_every_worker_group_on_its_queue_length() -> None:
    """Check the ScaledObjects' structure by hand: KEDA's CRD schema is not available offline."""
    scaled = _keda("ScaledObject")
    auths = _keda("TriggerAuthentication")
    deployments = _k8s("Deployment")
    redis_service = _k8s("Service")["redis"]
    secrets = _k8s("Secret")
    assert set(scaled) == {f"worker-{g}" for g in WORKER_GROUPS}
    for name, obj in scaled.items():
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        spec = obj["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments
        target_group = spec["scaleTargetRef"]["name"].removeprefix("worker-")
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"], name
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "redis"
        meta = trigger["metadata"]
        assert all(isinstance(v, str) for v in meta.values()), f"{name}: KEDA metadata are strings"
        assert [meta["listName"]] == [_queue_list(q) for q in WORKER_GROUPS[target_group]]
        assert int(meta["listLength"]) > 0
        host, _, port = meta["address"].partition(":")
        assert host.split(".")[0] == redis_service["metadata"]["name"]
        assert int(port) == redis_service["spec"]["ports"][0]["port"]
        auth = auths[trigger["authenticationRef"]["name"]]
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in secrets[ref["name"]]["stringData"]


# --- image, dashboard, runbook -----------------------------------------------------------


def test_dockerfile_builds_a_non_root_image_of_the_package() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    text = "\n".join(lines)
    assert "pip install ." in text
    for needed in ("pyproject.toml", "pipeline", "workers"):
        assert re.search(rf"^COPY .*\b{needed}\b", text, re.M), needed
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    for needed in ("pyproject.toml", "pipeline/**", "workers/**"):
        assert f"!{needed}" in ignore


def test_grafana_dashboard_charts_every_queue() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for queue in QUEUES:
        assert queue in exprs
    assert "wirewatch:celery:" in exprs, "queue lists live behind the broker key prefix"
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_runbook_covers_the_operations() -> None:
    runbook = (DEPLOY / "runbook.md").read_text()
    for needed in (
        "--scale worker-",
        "wirewatch dlq replay",
        "wirewatch status",
        "appendfsync",
        "whsec_",
        "## Alerts",
    ):
        assert needed in runbook, needed


def test_every_service_process_exposes_metrics_in_compose_and_kubernetes() -> None:
    for name, service in _services().items():
        if service.get("command", [None])[0] == "wirewatch":
            assert service["environment"]["WIREWATCH_METRICS_PORT"] == "9400", name
    config = _k8s("ConfigMap")["wirewatch-config"]["data"]
    port = config["WIREWATCH_METRICS_PORT"]
    deployments = _k8s("Deployment")
    for name in ["ingest", *(f"worker-{g}" for g in WORKER_GROUPS)]:
        template = deployments[name]["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == port, name
        ports = template["spec"]["containers"][0]["ports"]
        assert {"name": "metrics", "containerPort": int(port)} in ports, name


def test_grafana_dashboard_charts_the_wirewatch_metrics() -> None:
    import re

    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = set(re.findall(r"\bwirewatch_[a-z_]+", exprs))
    families = {
        "wirewatch_articles_out_total",
        "wirewatch_stage_seconds_bucket",
        "wirewatch_push_to_enriched_seconds_bucket",
        "wirewatch_batch_size_sum",
        "wirewatch_dead_letters_total",
        "wirewatch_deliveries_total",
        "wirewatch_redriven_total",
        "wirewatch_watchlists_loaded",
        "wirewatch_kb_entries_loaded",
    }
    assert families <= used, sorted(families - used)
    source = (ROOT / "workers" / "metrics.py").read_text()
    for name in used:  # every charted family is one the module defines
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert f'"{base}"' in source, name
