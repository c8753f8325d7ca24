"""The one rule for text that reaches the database, and how long a text looks to a reader. Pure: no Django.

Every text a person or a file gives us (justifications, skip notes, drafts, review reasons, snapshot names, imported
prompts, responses and metadata) passes :func:`text_problem` before it is written. Two things are refused, never
silently removed, so what is stored is what was sent and both databases behave the same:

* ``U+0000`` (NUL): PostgreSQL cannot store it in text or ``jsonb`` (SQLite would store it silently);
* lone surrogates (``U+D800``–``U+DFFF``, e.g. JSON ``"\\ud800"``): they are not characters and cannot be encoded
  as UTF-8, which PostgreSQL requires.

Callers turn the problem into their own typed error: :func:`check_text` raises ``ValidationFailed`` (a 400 on the
API, a message in the page), the import parsers raise ``ImportFormatError`` naming the line and column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping

from annotator.errors import ValidationFailed

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
# Letters and symbols that draw nothing, though Unicode does not class them as format characters.
_BLANK_GLYPHS = frozenset("\u115f\u1160\u2800\u3164\uffa0")
# Categories that draw nothing by themselves: controls, format characters (zero-width space, joiners, direction
# marks, BOM), surrogates, private use, unassigned; and marks that only combine with the letter before them.
_INVISIBLE_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Me"))


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, as a phrase (e.g. "contains a NUL character (U+0000) at position 3"), or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    char = found.group()
    what = "a NUL character (U+0000)" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"
    return f"contains {what} at position {found.start()}"


def all_storable(texts: Iterable[str]) -> bool:
    """True when no text in ``texts`` has a problem (one fast scan each; use :func:`text_problem` to say which)."""
    search = _FORBIDDEN.search
    return not any(map(search, texts))


def first_text_problem(value: object, path: str = "") -> tuple[str, str] | None:
    """``(path, problem)`` of the first string in a JSON-like value (keys included) that cannot be stored, or None.

    ``path`` names where it was found, e.g. ``metadata.tags[2]``.
    """
    for where, text in _strings(value, path):
        problem = text_problem(text)
        if problem is not None:
            return where, problem
    return None


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                yield where, key
            yield from _strings(item, where)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def check_text(text: str, *, field: str, label: str | None = None) -> str:
    """Return ``text`` unchanged, or raise ``ValidationFailed`` with ``extra["fields"][field]`` saying why."""
    problem = text_problem(text)
    if problem is not None:
        message = f"The {label or field.replace('_', ' ')} {problem}; remove it and send the text again."
        raise ValidationFailed(message, extra={"fields": {field: message}})
    return text


def visible_length(text: str) -> int:
    """Characters a reader sees: invisible ones (zero-width spaces, joiners, controls, combining marks) are not
    counted, and each run of whitespace between words counts as one.

    >>> visible_length("\\u200b" * 40)
    0
    >>> visible_length("  two\\u00a0 words\\n")
    9
    """
    if text.isascii():
        kept = "".join(c for c in text if c.isprintable() or c.isspace())
    else:
        category = unicodedata.category
        kept = "".join(
            c for c in text if c.isspace() or (c not in _BLANK_GLYPHS and category(c) not in _INVISIBLE_CATEGORIES)
        )
    return len(" ".join(kept.split()))
