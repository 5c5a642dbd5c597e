"""The pure core must import without Celery, kombu, Redis or an HTTP client."""

from __future__ import annotations

import json
import subprocess
import sys

# urllib3 is not listed: trafilatura (HTML extraction) imports it but pipeline never calls the network.
FORBIDDEN = ("celery", "kombu", "redis", "httpx", "requests", "valkey")

PROBE = """
import json, sys, pkgutil, importlib
import pipeline
for info in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
    importlib.import_module(info.name)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_pipeline_imports_no_io_library() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "pipeline" in loaded
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))


def test_the_probe_can_fail() -> None:
    """The same probe sees an I/O library when one is imported (so the check above bites)."""
    out = subprocess.run(
        [sys.executable, "-c", "import redis\n" + PROBE], capture_output=True, text=True, check=True
    )
    assert "redis" in json.loads(out.stdout)
