"""What `wirewatch push` reads from files, directories and stdin."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from workers.ingest.sources import count_payloads, iter_payloads


def test_directory_of_documents_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        '<html><head><link rel="canonical" href="https://pier.example/a"></head><body><p>Hi</p></body></html>'
    )
    (tmp_path / "b.txt").write_bytes(b"Plain crawler text \xff with a bad byte")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.jsonl").write_text(
        '{"url": "https://pier.example/c", "text": "x"}\n\n{broken\n'
    )
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    items = list(iter_payloads(str(tmp_path)))
    assert [label for label, _ in items] == ["a.html", "b.txt", "c.jsonl:1", "c.jsonl:3"]
    html = json.loads(items[0][1])
    assert html["url"] == "https://pier.example/a" and "<p>Hi</p>" in html["html"]
    txt = json.loads(items[1][1])
    assert txt["url"].startswith("file://") and "\ufffd" in txt["text"]
    assert items[3][1] == b"{broken"  # passed on as is: validation reports it
    assert count_payloads(str(tmp_path)) == 4


def test_stdin_and_missing_files(tmp_path: Path) -> None:
    stdin = io.BytesIO(b'{"a": 1}\r\n\n{"b": 2}\n')
    assert list(iter_payloads("-", stdin=stdin)) == [
        ("line 1", b'{"a": 1}'),
        ("line 3", b'{"b": 2}'),
    ]
    assert count_payloads("-") is None
    with pytest.raises(FileNotFoundError):
        list(iter_payloads(str(tmp_path / "nope.jsonl")))
    assert count_payloads(str(tmp_path / "nope.jsonl")) == 0
