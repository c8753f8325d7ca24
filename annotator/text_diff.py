"""An edit against its original, word by word (difflib), and when two texts are the same edit. Pure: no Django.

The diff is a list of ``(op, text)`` pieces that a template renders with autoescaping (``<del>`` / ``<ins>``), so it
is as sanitised as every other text: no HTML is ever built here.

>>> word_diff("The cat sat.", "The dog sat.")
[('equal', 'The '), ('delete', 'cat '), ('insert', 'dog '), ('equal', 'sat.')]
>>> same_text("a  \\r\\nb\\n", "a\\nb")
True
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

DiffOp = Literal["equal", "delete", "insert"]
_TOKENS = re.compile(r"\S+\s*|\s+")


def normalised(text: str) -> str:
    """The text as an edit is compared: line ends unified, trailing spaces of each line and outer blank lines gone."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def same_text(first: str, second: str) -> bool:
    """Whether an edit changes nothing but white space at line ends (what an annotator cannot see)."""
    return normalised(first) == normalised(second)


def word_diff(original: str, edited: str) -> list[tuple[DiffOp, str]]:
    """``(op, text)`` pieces turning ``original`` into ``edited``: each word keeps the white space after it."""
    before, after = _TOKENS.findall(original), _TOKENS.findall(edited)
    pieces: list[tuple[DiffOp, str]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pieces.append(("equal", "".join(before[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(("delete", "".join(before[i1:i2])))
        if j2 > j1:
            pieces.append(("insert", "".join(after[j1:j2])))
    return pieces
