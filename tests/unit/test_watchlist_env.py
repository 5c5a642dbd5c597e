"""``${NAME}`` references in watchlist files are filled from the environment, strictly."""

from __future__ import annotations

import pytest

from pipeline.errors import PermanentError
from pipeline.watchlist import parse_watchlists
from workers.watchlists.store import expand_env

YAML = """
watchlists:
  - id: desk
    query: strike
    delivery:
      webhook: ${HOOK_URL}/in
      secret: ${DESK_SECRET}
"""


def test_references_are_replaced() -> None:
    env = {"HOOK_URL": "https://hooks.example.com", "DESK_SECRET": "whsec_" + "A" * 32}
    wfile = parse_watchlists(expand_env(YAML, env))
    delivery = wfile.watchlists[0].delivery
    assert delivery.webhook == "https://hooks.example.com/in"
    assert delivery.secret is not None and delivery.secret.get_secret_value() == env["DESK_SECRET"]


def test_unset_variables_are_named_in_the_error() -> None:
    with pytest.raises(PermanentError) as err:
        expand_env(YAML, {"HOOK_URL": "https://hooks.example.com"})
    assert err.value.reason == "unset_variable"
    assert "DESK_SECRET" in str(err.value) and "HOOK_URL" not in str(err.value)


@pytest.mark.parametrize(
    "text",
    ["$HOME plain", "${} empty", "${1ABC} digit first", "${A-B} dash", "$${X", "{X}", "${X"],
)
def test_other_dollar_forms_are_left_alone(text: str) -> None:
    assert expand_env(text, {}) == text


def test_values_are_not_expanded_again() -> None:
    assert expand_env("${A}", {"A": "${B}"}) == "${B}"


def test_a_huge_file_with_many_references_is_linear() -> None:
    text = "${A} " * 200_000
    assert expand_env(text, {"A": "x"}) == "x " * 200_000
