"""`wirewatch process`: one JSON line per input line, bad lines become error records."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from workers.cli import main

GOOD = {
    "url": "https://quay.example/a",
    "text": "The quay reopened after the storm passed over the bay.",
}


def _run(data: bytes, *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["process", *args], input=data)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_records_and_error_records_in_order() -> None:
    lines = [
        json.dumps(GOOD).encode(),
        b"{broken",
        bytes(range(128, 256)),
        b"",
        json.dumps({"url": "https://quay.example/b"}).encode(),
        json.dumps({**GOOD, "id": "mine"}).encode(),
    ]
    out = _run(b"\n".join(lines) + b"\n")
    assert len(out) == 5  # the blank line is skipped
    assert out[0]["url"] == GOOD["url"] and out[0]["story_id"]
    assert out[1] == {
        "error": {
            "reason": "invalid_json",
            "detail": out[1]["error"]["detail"],
            "stage": "validate",
        },
        "line": 2,
    }
    assert out[2]["error"]["reason"] == "undecodable"
    assert out[3]["error"]["reason"] == "missing_body" and out[3]["line"] == 5
    assert out[4]["id"] == "mine"
    assert out[4]["duplicate_of"] == out[0]["id"]  # same text: an exact re-crawl


def test_watchlists_produce_one_alert_per_story(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text("watchlists:\n  - id: quay\n    query: quay\n")
    alerts = tmp_path / "alerts.jsonl"
    data = (
        json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "url": "https://copy.example/a"}) + "\n"
    ).encode()
    out = _run(data, "--watchlists", str(tmp_path / "w.yaml"), "--alerts", str(alerts))
    assert [len(r["alerts"]) for r in out] == [1, 0]
    written = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert [a["alert_id"] for a in written] == [out[0]["alerts"][0]["alert_id"]]


def test_a_bad_watchlist_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text("watchlists: [{id: x}]\n")
    result = CliRunner().invoke(
        main, ["process", "--watchlists", str(tmp_path / "w.yaml")], input=b""
    )
    assert result.exit_code == 2
    assert "cannot load watchlists" in result.output
