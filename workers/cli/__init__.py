"""The ``wirewatch`` command line. Each command group lives in its own module."""

from __future__ import annotations

import click

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="wirewatch")
def main() -> None:
    """wirewatch: enrich crawled news and alert subscribers' watchlists."""


def _register() -> None:
    # Imported for their side effect of adding commands to ``main``.
    from workers.cli import core, deliveries, dlq, entities, repair, status, stories, watchlist  # noqa: F401


_register()
