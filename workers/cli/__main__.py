"""Run the CLI as ``python -m workers.cli`` (what child processes use)."""

from workers.cli import main

main()
