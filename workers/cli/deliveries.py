"""`wirewatch` commands: deliveries."""

from __future__ import annotations

import click  # noqa: F401

from workers.cli import main  # noqa: F401
