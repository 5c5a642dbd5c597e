"""Prometheus metrics scraped from the running services agree with what the streams hold.

The session's service processes (ingest and one worker per queue group, prefork children
included) each serve their metrics on their own port. Counters are cumulative over the
session, so the test compares the difference between a scrape before and after its load.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.pipeline_fixtures import PipelineProcesses, wait_until
from workers.delivery.receiver import WebhookReceiver
from workers.delivery.signing import generate_secret
from workers.runtime.processes import cli_argv

pytestmark = pytest.mark.e2e

Sample = tuple[str, tuple[tuple[str, str], ...]]

TEXT = (
    "Dockers walked out at the Tidewater harbour on Monday after a crane collapsed at the "
    "container terminal, halting work at two of the port's five berths while engineers "
    "inspect the remaining cranes and the harbour authority reviews maintenance records."
)


def _scrape(ports: dict[str, int]) -> Counter[Sample]:
    """Sum every sample over all processes, keyed by (name, sorted labels)."""
    total: Counter[Sample] = Counter()
    for port in ports.values():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                total[(s.name, tuple(sorted(s.labels.items())))] += s.value
    return total


def _get(counts: Counter[Sample], name: str, **labels: str) -> float:
    """Sum the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in counts.items() if n == name and want <= set(ls))


def test_scraped_counters_match_what_was_pushed_enriched_and_dead_lettered(
    redis_url: str,
    pipeline_workers: PipelineProcesses,
    pipeline_env: dict[str, str],
    tmp_path: Path,
) -> None:
    ports = pipeline_workers.metrics_ports
    assert set(ports) >= {"ingest", "worker-clean", "worker-emit", "worker-deliver"}
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with WebhookReceiver(generate_secret()) as receiver:
        (tmp_path / "w.yaml").write_text(
            "watchlists:\n"
            "  - id: metrics-walkout\n"
            "    query: 'walked AND harbour'\n"
            "    delivery:\n"
            f"      webhook: {receiver.url}/hook\n"
            f"      secret: {receiver.secret}\n"
        )
        applied = subprocess.run(
            cli_argv("watchlist", "apply", str(tmp_path / "w.yaml")),
            env=pipeline_env,
            capture_output=True,
            timeout=60,
        )
        assert applied.returncode == 0, applied.stderr.decode()
        # Warm up: the first batch of a session loads the models. Start counting once one
        # article went all the way through and nothing is in flight.
        for n in range(3):
            warm = {
                "url": f"https://metrics.example/warm{n}",
                "text": TEXT.replace("walked", "went"),
            }
            client.xadd("wirewatch:ingest", {"article": json.dumps(warm)})
            wait_until(
                lambda: (
                    not client.xpending("wirewatch:ingest", "ingest")["pending"]
                    and not client.xlen("wirewatch:ingest")
                ),
                timeout=90,
                message=lambda: f"the warm-up article\n{pipeline_workers.logs()}",
            )
            if client.xlen("wirewatch:enriched"):
                break
        base_enriched, base_dead = client.xlen("wirewatch:enriched"), client.xlen("wirewatch:dlq")
        before = _scrape(ports)
        good = [
            {"url": f"https://metrics.example/{n}", "title": f"Walkout {n}", "text": f"{TEXT} {n}"}
            for n in ("a", "b", "c")
        ]
        bad = [  # refused by the ingest service
            b'{"url": "https://metrics.example/x", "text": ',
            json.dumps({"text": "no url"}).encode(),
        ]
        # Valid input that the clean stage dead-letters: nothing to extract.
        empty = {"url": "https://metrics.example/e", "html": "<html><body><nav>Home</nav></body>"}
        for article in [*good, empty]:
            client.xadd("wirewatch:ingest", {"article": json.dumps(article)})
        for raw in bad:
            client.xadd("wirewatch:ingest", {"article": raw})
        wait_until(
            lambda: (
                client.xlen("wirewatch:enriched") == base_enriched + 3
                and client.xlen("wirewatch:dlq") == base_dead + 3
            ),
            timeout=90,
            message=lambda: f"3 records and 3 dead letters\n{pipeline_workers.logs()}",
        )
        assert receiver.wait_for(1, timeout=30), pipeline_workers.logs()

        def delta(name: str, **labels: str) -> float:
            return _get(_scrape(ports), name, **labels) - _get(before, name, **labels)

        # The counters are written just after the streams: poll until they caught up.
        wait_until(
            lambda: (
                delta("wirewatch_enriched_total") == 3
                and delta("wirewatch_dead_letters_total") == 3
                and delta("wirewatch_deliveries_total") == 1
            ),
            timeout=15,
            message=lambda: "metrics to catch up: " + repr(_scrape(ports).most_common(60)),
        )
    after = _scrape(ports)

    def d(name: str, **labels: str) -> float:
        return _get(after, name, **labels) - _get(before, name, **labels)

    # Entries re-driven (the test environment re-drives after 2 s without progress) are
    # counted in redriven_total and sent again; everything else is exact.
    redriven = d("wirewatch_redriven_total")
    assert d("wirewatch_articles_in_total", stage="ingest") == 6  # everything pushed, once
    assert d("wirewatch_articles_out_total", stage="ingest", outcome="passed") == 4 + redriven
    assert d("wirewatch_articles_out_total", stage="ingest", outcome="dead_lettered") == 2
    assert d("wirewatch_batch_size_sum", stage="ingest") == 4 + redriven
    assert d("wirewatch_dead_letters_total", stage="ingest") == 2
    assert d("wirewatch_dead_letters_total", stage="clean", reason="empty_extraction") == 1
    assert d("wirewatch_articles_out_total", stage="clean", outcome="dead_lettered") == 1
    for stage in ("clean", "detect_language", "tag_entities", "match", "emit"):
        into = d("wirewatch_articles_in_total", stage=stage)
        out = {
            o: d("wirewatch_articles_out_total", stage=stage, outcome=o)
            for o in ("passed", "retried", "dead_lettered")
        }
        assert into == sum(out.values()), (stage, into, out)  # every article accounted for
        assert 3 <= out["passed"] <= 3 + redriven, (stage, out)
        assert d("wirewatch_stage_seconds_count", stage=stage) >= 1, stage
    assert d("wirewatch_enriched_total") == 3
    assert d("wirewatch_push_to_enriched_seconds_count") == 3
    assert d("wirewatch_deliveries_total", outcome="delivered", endpoint="metrics-walkout") == 1
    assert d("wirewatch_delivery_seconds_count") == 1
    # The gauges report what the workers loaded: the one watchlist applied above.
    assert _get(after, "wirewatch_watchlists_loaded") >= 1
    assert _get(after, "wirewatch_kb_entries_loaded") > 0
