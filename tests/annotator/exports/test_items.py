from __future__ import annotations

import pytest

from annotator.exports import split_justification


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@Response 2 is better. It is correct. And clear.", ("@Response 2 is better.", "It is correct. And clear.")),
        ("Is it? Yes!  Really.", ("Is it?", "Yes!  Really.")),
        ("First line\nsecond line", ("First line", "second line")),
        ("Version 2.5 is newer", ("Version 2.5 is newer", "")),
        ("  One sentence.  ", ("One sentence.", "")),
        ("", ("", "")),
    ],
)
def test_the_statement_is_the_first_sentence_and_the_elaboration_the_rest(text: str, expected: tuple[str, str]) -> None:
    assert split_justification(text) == expected
