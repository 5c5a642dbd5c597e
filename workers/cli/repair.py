"""`wirewatch repair`: fix the embedded server's damaged append-only file."""

from __future__ import annotations

import click

from workers.cli import main
from workers.cli.common import fail

__all__ = ["repair"]


@main.command()
def repair() -> None:
    """Back up and repair the embedded server's append-only file in WIREWATCH_DATA_DIR.

    Truncates the file to its last valid command (what a crash mid-write tore is lost;
    the backup keeps the original). Refused while a `wirewatch up` holds the directory.
    """
    from workers.runtime.embedded import DataDirBusy, hold_data_dir, repair_aof
    from workers.settings import get_settings

    data_dir = get_settings().data_dir
    try:
        with hold_data_dir(data_dir) as held:
            backup, output = repair_aof(held / "redis")
    except DataDirBusy as exc:
        fail(str(exc), code=1)
    except RuntimeError as exc:
        fail(str(exc), code=1)
    if backup is None:
        click.echo(output)
        return
    click.echo(output)
    click.echo(f"repaired; the original files are kept in {backup}")
