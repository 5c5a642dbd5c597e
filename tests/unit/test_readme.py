"""The README stays true: every setting documented, examples that work, links that resolve."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from workers.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _text() -> str:
    return README.read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", _text(), re.S | re.M)


def _config_rows() -> dict[str, list[str]]:
    section = _text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"^\|\s*`(WIREWATCH_[A-Z0-9_]+)`\s*\|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = [c.strip() for c in match.group(2).split("|")]
    return rows


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = set(_config_rows())
    expected = {f"WIREWATCH_{name.upper()}" for name in Settings.model_fields}
    assert not expected - documented, f"add to the README table: {sorted(expected - documented)}"
    assert not documented - expected, f"not settings: {sorted(documented - expected)}"


def test_configuration_table_defaults_match_settings() -> None:
    """A default written as a literal in the table must equal the Settings default."""
    rows = _config_rows()
    for name, field in Settings.model_fields.items():
        default_cell = rows[f"WIREWATCH_{name.upper()}"][0]
        literal = re.fullmatch(r"`([^`]*)`", default_cell)
        if field.default is None or not literal or literal.group(1).startswith("WIREWATCH_"):
            continue
        value = field.default
        shown = str(value) if not isinstance(value, float) else f"{value:g}"
        assert literal.group(1) == shown, f"WIREWATCH_{name.upper()}: README says {default_cell}"


def test_readme_watchlist_example_is_valid() -> None:
    from pipeline.query import parse
    from pipeline.watchlist import parse_watchlists

    (block,) = [b for b in _blocks("yaml") if "watchlists:" in b]
    parsed = parse_watchlists(block)
    assert parsed.watchlists and parsed.entities
    for watchlist in parsed.watchlists:
        parse(watchlist.query)
        assert set(watchlist.sources) <= {"include", "exclude"}
    assert yaml.safe_load(block)["watchlists"][0]["delivery"]["secret"].startswith("whsec_")


def test_readme_webhook_snippet_verifies_a_signed_alert() -> None:
    (snippet,) = [b for b in _blocks("python") if "Webhook(" in b]
    namespace: dict[str, object] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # our own README
    secret = str(namespace["SECRET"])
    receive = namespace["receive"]
    assert callable(receive)

    body = json.dumps({"alert_id": "a1", "watchlist_id": "w1"}).encode()
    now = datetime.now(tz=UTC)
    signature = Webhook(secret).sign("a1", now, body.decode())
    headers = {
        "webhook-id": "a1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    assert receive(body, headers)["alert_id"] == "a1"
    with pytest.raises(WebhookVerificationError):
        receive(body.replace(b"w1", b"w2"), headers)


def test_readme_xadd_line_is_a_valid_article() -> None:
    from pipeline.models import Article

    line = xadd_line()
    match = re.fullmatch(
        r'redis-cli -u "\$\(wirewatch url\)" XADD (\S+) \'\*\' article \'(.*)\'', line
    )
    assert match, line
    assert match.group(1) == "wirewatch:ingest"
    Article.model_validate_json(match.group(2))


def xadd_line() -> str:
    """The README's one-line push for crawlers in any language (run by tests/e2e too)."""
    return next(x for x in _text().splitlines() if x.startswith("redis-cli "))


def push_snippet() -> str:
    """The README's Python push example (run by tests/e2e too)."""
    (snippet,) = [b for b in _blocks("python") if "push(" in b]
    return snippet


def test_readme_examples_find_the_server_instead_of_assuming_a_port() -> None:
    # The embedded server takes a free port; a literal 6379 would push into another Redis.
    assert "$(wirewatch url)" in xadd_line()
    assert "redis_url()" in push_snippet()
    for block in _blocks("sh") + _blocks("python"):
        assert "6379" not in block and "localhost:" not in block, block


def test_readme_links_resolve() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", _text())
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert local
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"


def _documented_commands(text: str) -> set[tuple[str, ...]]:
    """Return the ``wirewatch`` command paths shown in code (inline spans and fenced blocks)."""
    code = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)
    code += re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M))
    found: set[tuple[str, ...]] = set()
    for chunk in code:
        for match in re.finditer(r"(?<![\w:/.-])(?<!-n )wirewatch((?: [a-z][a-z-]*){1,2})", chunk):
            found.add(tuple(match.group(1).split()))
    return found


@pytest.mark.parametrize("doc", ["README.md", "deploy/runbook.md"])
def test_documented_commands_exist(doc: str) -> None:
    import click

    from workers.cli import main

    commands = _documented_commands((ROOT / doc).read_text())
    assert commands
    unknown = []
    for path in sorted(commands):
        with click.Context(main) as ctx:
            command = main.get_command(ctx, path[0])
            if command is None:
                unknown.append(" ".join(path))
                continue
            if isinstance(command, click.Group) and len(path) > 1:
                if command.get_command(ctx, path[1]) is None:
                    unknown.append(" ".join(path))
    assert not unknown, f"{doc} shows commands the CLI does not have: {unknown}"


def test_the_retry_window_is_one_figure_computed_from_the_default_schedule() -> None:
    from workers.delivery.schedule import parse_schedule

    hours = sum(parse_schedule(Settings().webhook_retry_schedule)) / 3600
    figure = f"about {hours:.1f} hours"
    docs = [README, ROOT / "docs" / "webhooks.md", ROOT / "workers" / "delivery" / "schedule.py"]
    for doc in docs:
        text = doc.read_text()
        stated = re.findall(r"about [\d.]+ hours", text)
        assert stated and set(stated) == {figure}, f"{doc.name}: {stated}, expected {figure}"
