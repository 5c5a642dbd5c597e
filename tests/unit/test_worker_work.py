"""Batch items on the wire carry references: what ``light`` keeps and drops, and the name a
working record is filed under."""

from __future__ import annotations

from workers.keys import Keys
from workers.stages.batch import new_item
from workers.stages.work import light, ref


def test_an_item_with_an_entry_travels_without_its_bodies() -> None:
    item = {**new_item(entry="1-0", article_id="a1"), "payload": "{}", "record": object()}
    assert light(item) == {"id": "a1", "entry": "1-0", "attempts": 0}


def test_an_item_without_an_entry_keeps_its_inline_payload() -> None:
    item = {**new_item('{"url": "https://x.example/"}', article_id="a2"), "record": object()}
    assert light(item) == {
        "id": "a2",
        "entry": None,
        "attempts": 0,
        "payload": '{"url": "https://x.example/"}',
    }


def test_the_working_record_is_filed_under_the_entry_else_the_id() -> None:
    keys = Keys("p")
    assert keys.work(ref(new_item(entry="17-3", article_id="a"))) == "p:work:17-3"
    assert keys.work(ref(new_item("{}", article_id="a"))) == "p:work:id:a"
    assert "hits" in light({**new_item(entry="1-1"), "hits": []})
