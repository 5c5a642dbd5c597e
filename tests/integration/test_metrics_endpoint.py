"""workers.metrics in a process of its own: hooks are no-ops until started, a forked child's
counts reach the parent's endpoint (multiprocess mode), and each process's directory is
its own and emptied at start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline_fixtures import free_port

pytestmark = pytest.mark.integration

_SCRIPT = """
import json, os, sys, urllib.request
from pathlib import Path
from workers import metrics

base = Path(sys.argv[1])
(base / "ingest-999999999").mkdir(parents=True)   # a process that is gone
metrics.dead_lettered("ingest", "invalid_json")     # before start: nothing, no error
port = metrics.start("worker-test", int(sys.argv[2]), host="127.0.0.1", directory=base)
metrics.dead_lettered("articles.clean", "empty_body")
pid = os.fork()
if pid == 0:  # a prefork child counts in its own file
    metrics.dead_lettered("articles.clean", "empty_body")
    metrics.enriched("1-0")
    os._exit(0)
os.waitpid(pid, 0)
text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
print(json.dumps({"text": text, "dirs": sorted(p.name for p in base.iterdir())}))
"""


def test_child_counts_reach_the_parent_endpoint(tmp_path: Path) -> None:
    port = free_port()
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "m"), str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    text = result["text"]
    assert 'wirewatch_dead_letters_total{reason="empty_body",stage="clean"} 2.0' in text
    assert "invalid_json" not in text  # the hook before start counted nothing
    assert "wirewatch_enriched_total 1.0" in text
    assert "wirewatch_push_to_enriched_seconds_count 1.0" in text
    # Its own directory (role-pid); the gone process's one was removed.
    assert len(result["dirs"]) == 1 and result["dirs"][0].startswith("worker-test-")
