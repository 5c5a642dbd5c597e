"""Fixtures: the real service processes (see tests/pipeline_fixtures.py)."""

from tests.pipeline_fixtures import pipeline_env, pipeline_workers, wait_until  # noqa: F401
