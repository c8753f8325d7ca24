from __future__ import annotations

import pytest

from annotator.imports import Turn, parse_helpsteer2_prompt, render_helpsteer2_prompt


def test_a_single_turn_prompt_is_one_user_turn() -> None:
    assert parse_helpsteer2_prompt("c#") == (Turn("user", "c#"),)


def test_markers_split_a_multi_turn_prompt_and_the_first_user_turn_is_unmarked() -> None:
    prompt = "Hi\n<extra_id_1>Assistant\nHello!\nHow can I help?\n<extra_id_1>User\nc#"
    assert parse_helpsteer2_prompt(prompt) == (
        Turn("user", "Hi"),
        Turn("assistant", "Hello!\nHow can I help?"),
        Turn("user", "c#"),
    )


@pytest.mark.parametrize(
    "turns",
    [
        (Turn("user", "c#"),),
        (Turn("user", "a"), Turn("assistant", ""), Turn("user", "b")),
        (Turn("system", "Be brief."), Turn("user", "a"), Turn("assistant", "x\ny"), Turn("user", "b")),
    ],
)
def test_render_then_parse_gives_the_turns_back(turns: tuple[Turn, ...]) -> None:
    assert parse_helpsteer2_prompt(render_helpsteer2_prompt(turns)) == turns


def test_render_writes_the_helpsteer2_markers_exactly() -> None:
    turns = [Turn("user", "u1"), Turn("assistant", "a1"), Turn("user", "u2")]
    assert render_helpsteer2_prompt(turns) == "u1\n<extra_id_1>Assistant\na1\n<extra_id_1>User\nu2"


def test_render_refuses_a_system_turn_after_the_first() -> None:
    with pytest.raises(ValueError, match="first turn"):
        render_helpsteer2_prompt([Turn("user", "a"), Turn("system", "b")])
