"""A subscriber's whole story: one YAML apply, alerts once per story with explanations, live edits.

The two wind-tender articles are copies of one story from two outlets (the bundled
samples); the watchlist must fire once for the pair. Editing the YAML and applying it
again must change what alerts without restarting any worker.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.pipeline_fixtures import PipelineProcesses, wait_until
from workers.delivery.receiver import WebhookReceiver
from workers.delivery.signing import generate_secret
from workers.runtime.processes import cli_argv

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "workers" / "data" / "samples" / "articles.jsonl"


def _samples() -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in SAMPLES.read_text(encoding="utf-8").splitlines() if line]
    return {row["id"]: row for row in rows}


def _records(client: redis.Redis) -> dict[str, dict[str, Any]]:
    records = (json.loads(f["record"]) for _, f in client.xrange("wirewatch:enriched"))
    return {r["id"]: r for r in records}


def _apply(env: dict[str, str], path: Path) -> None:
    done = subprocess.run(
        cli_argv("watchlist", "apply", str(path)), env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()


def _yaml(receiver: WebhookReceiver, query: str) -> str:
    return (
        "entities:\n"
        "  - id: org:lumen-energy\n"
        "    name: Lumen Energy\n"
        "    type: ORG\n"
        "watchlists:\n"
        "  - id: energy-desk\n"
        "    name: Energy desk\n"
        f"    query: '{query}'\n"
        "    delivery:\n"
        f"      webhook: {receiver.url}/energy\n"
        f"      secret: {receiver.secret}\n"
    )


def test_apply_alerts_once_per_story_and_edits_apply_live(
    redis_url: str,
    pipeline_workers: PipelineProcesses,
    pipeline_env: dict[str, str],
    tmp_path: Path,
) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    samples = _samples()
    original, copy = samples["demo-coastal-times-lumen"], samples["demo-energy-daily-lumen"]
    chile = samples["demo-diario-andino-cobre"]
    yaml_path = tmp_path / "watchlists.yaml"
    with WebhookReceiver(generate_secret()) as receiver:
        yaml_path.write_text(
            _yaml(receiver, 'entity:org:lumen-energy AND ("offshore wind" OR turbine*)')
        )
        _apply(pipeline_env, yaml_path)

        client.xadd("wirewatch:ingest", {"article": json.dumps(original)})
        client.xadd("wirewatch:ingest", {"article": json.dumps(copy)})
        records = wait_until(
            lambda: len(_records(client)) == 2 and _records(client),
            timeout=60,
            message=lambda: f"two records\n{pipeline_workers.logs()}",
        )
        assert records[original["id"]]["story_id"] == records[copy["id"]]["story_id"]
        assert receiver.wait_for(1, timeout=30), pipeline_workers.logs()
        assert not receiver.wait_for(2, timeout=2.0), "a second copy of one story alerted again"
        # The later copy is attached to the story: both outlets are listed under it.
        shown = subprocess.run(
            cli_argv("story", "show", records[copy["id"]]["story_id"], "--json"),
            env=pipeline_env,
            capture_output=True,
            timeout=60,
            text=True,
        )
        assert shown.returncode == 0, shown.stderr
        listed = {json.loads(line)["id"] for line in shown.stdout.splitlines()}
        assert listed == {original["id"], copy["id"]}

        delivery = receiver.deliveries[0]
        assert delivery.verified, delivery.error
        alert = delivery.json()
        assert alert["watchlist_id"] == "energy-desk"
        # The explanation points into the text of the article that fired.
        fired = records[alert["article"]["id"]]
        explained = {m.get("entity") or m.get("term") for m in alert["matches"]}
        assert "org:lumen-energy" in explained
        for match in alert["matches"]:
            assert match["snippet"], match
            source = fired["title"] if match["field"] == "title" else fired["text"]
            for span in match["spans"]:
                assert source[span["start"] : span["end"]].strip(), (match, span)
        entity_spans = [m for m in alert["matches"] if m.get("entity") == "org:lumen-energy"]
        span = entity_spans[0]["spans"][0]
        assert fired["text"][span["start"] : span["end"]].startswith("Lumen")

        # Edit the YAML: the same watchlist now wants Chilean copper. No restart.
        yaml_path.write_text(_yaml(receiver, "entity:country:CL AND (copper OR cobre)"))
        _apply(pipeline_env, yaml_path)
        client.xadd("wirewatch:ingest", {"article": json.dumps(chile)})
        assert receiver.wait_for(2, timeout=30), pipeline_workers.logs()
        second = receiver.deliveries[1]
        assert second.verified, second.error
        assert second.json()["article"]["id"] == chile["id"]
        assert pipeline_workers.alive()
