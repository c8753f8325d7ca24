"""HelpSteer2's string encoding of a multi-turn prompt, both ways.

HelpSteer2 (nvidia/HelpSteer2 dataset card, "Dataset Description") stores a conversation in one string: the first
user turn is unmarked, and every later turn starts with a line ``<extra_id_1>Assistant`` or ``<extra_id_1>User``::

    {user turn 1}
    <extra_id_1>Assistant
    {assistant turn 1}
    <extra_id_1>User
    {user turn 2}

A leading system turn, which HelpSteer2 never has, is written with NeMo-Aligner's template
``<extra_id_0>System\\n{text}\\n`` so that nothing is lost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from annotator.domain import Role, Turn

_MARKER = re.compile(r"\n<extra_id_1>(User|Assistant)(?:\n|$)")
_SYSTEM_PREFIX = "<extra_id_0>System\n"
_ROLE_OF_MARKER: dict[str, Role] = {"User": "user", "Assistant": "assistant"}
_MARKER_OF_ROLE = {"user": "User", "assistant": "Assistant"}


def parse_helpsteer2_prompt(prompt: str) -> tuple[Turn, ...]:
    """Split a HelpSteer2 prompt string into turns.

    Parameters
    ----------
    prompt
        The ``prompt`` column of HelpSteer2 / HelpSteer2-Preference.

    Returns
    -------
    tuple of Turn
        At least one turn; the first non-system turn is the user's.

    Examples
    --------
    >>> parse_helpsteer2_prompt("Hi\\n<extra_id_1>Assistant\\nHello!\\n<extra_id_1>User\\nc#")
    (Turn(role='user', content='Hi'), Turn(role='assistant', content='Hello!'), Turn(role='user', content='c#'))
    """
    turns: list[Turn] = []
    if prompt.startswith(_SYSTEM_PREFIX):
        system, _, prompt = prompt[len(_SYSTEM_PREFIX) :].partition("\n")
        turns.append(Turn("system", system))
    if "<extra_id_1>" not in prompt:  # fast path: ~70% of HelpSteer2 prompts are single-turn
        turns.append(Turn("user", prompt))
        return tuple(turns)
    if prompt.startswith("<extra_id_1>User\n"):
        prompt = prompt[len("<extra_id_1>User\n") :]
    pieces = _MARKER.split(prompt)
    turns.append(Turn("user", pieces[0]))
    for index in range(1, len(pieces), 2):
        turns.append(Turn(_ROLE_OF_MARKER[pieces[index]], pieces[index + 1]))
    return tuple(turns)


def render_helpsteer2_prompt(turns: Sequence[Turn]) -> str:
    """Join turns into HelpSteer2's prompt string (inverse of :func:`parse_helpsteer2_prompt`).

    Raises
    ------
    ValueError
        When there is no turn, or a system turn is not the first.

    Examples
    --------
    >>> render_helpsteer2_prompt([Turn("user", "Hi"), Turn("assistant", "Hello!"), Turn("user", "c#")])
    'Hi\\n<extra_id_1>Assistant\\nHello!\\n<extra_id_1>User\\nc#'
    """
    if not turns:
        raise ValueError("a prompt needs at least one turn")
    head = ""
    rest = list(turns)
    if rest[0].role == "system":
        head = f"{_SYSTEM_PREFIX}{rest[0].content}\n"
        rest = rest[1:]
    parts: list[str] = []
    for index, turn in enumerate(rest):
        if turn.role == "system":
            raise ValueError("only the first turn may be a system turn")
        if index == 0 and turn.role == "user":
            parts.append(turn.content)
        else:
            parts.append(f"\n<extra_id_1>{_MARKER_OF_ROLE[turn.role]}\n{turn.content}")
    return head + "".join(parts)
