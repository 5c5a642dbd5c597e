"""`wirewatch story show`: the articles that make up one story."""

from __future__ import annotations

import json

import click

from workers.cli import main
from workers.cli.common import context, fail

__all__ = ["story"]

_MAX_ID = 512


@main.group()
def story() -> None:
    """Inspect stories: the copies and reports of one story across outlets."""


@story.command()
@click.argument("story_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article.")
def show(story_id: str, as_json: bool) -> None:
    """List the articles of STORY_ID (a record's or an alert's ``story_id``), oldest first."""
    from workers.stages.story_members import StoryMembers

    story_id = story_id.strip()
    if not story_id or len(story_id) > _MAX_ID or any(c.isspace() for c in story_id):
        fail(f"{story_id[:80]!r} is not a story id")
    client, settings, keys = context()
    members, overflow = StoryMembers(
        client, keys, ttl_s=int(settings.story_window_hours * 3600)
    ).members(story_id)
    if not members:
        fail(f"no story {story_id!r} (unknown, or older than the story window)", code=1)
    if as_json:
        for member in members:
            click.echo(json.dumps(member))
        return
    click.echo(f"story {story_id}: {len(members) + overflow} articles")
    for m in members:
        how = f"copy of {m['duplicate_of']}" if m.get("duplicate_of") else "report"
        click.echo(
            "\t".join(
                [
                    str(m.get("processed_at") or "-"),
                    str(m.get("source") or "-"),
                    str(m.get("language") or "-"),
                    how,
                    str(m.get("title") or "-")[:80],
                    str(m.get("url") or "-"),
                ]
            )
        )
    if overflow:
        click.echo(f"... and {overflow} more not listed (a story lists at most {len(members)})")
