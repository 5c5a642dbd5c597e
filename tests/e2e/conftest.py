"""Fixtures for this directory.

``pipeline_env`` and ``pipeline_workers`` (the real ingest and worker processes) come from
``tests/conftest.py`` so every test directory shares one set per session; the helpers
live in ``tests/pipeline_fixtures.py`` (``wait_until``, ``PipelineProcesses``).
"""
