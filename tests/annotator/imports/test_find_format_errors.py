"""find_format_errors: every problem of a refused file (up to a limit), not only the first."""

from __future__ import annotations

import io
import json

from annotator.imports import find_format_errors, parse_file

ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def _jsonl(rows: list[object]) -> io.BytesIO:
    return io.BytesIO("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode())


def _half(prompt: str, **ratings: object) -> dict[str, object]:
    return {"prompt": prompt, "response": f"answer to {prompt}", **dict.fromkeys(ATTRIBUTES, 2), **ratings}


def _pair(prompt: str) -> list[object]:
    return [_half(prompt), _half(prompt)]


def _comparison(**fields: object) -> dict[str, object]:
    return {"prompt": "p", "response_1": "a", "response_2": "b", **fields}


def test_a_good_file_has_no_errors() -> None:
    data = _jsonl([*_pair("p1"), *_pair("p2")])
    assert find_format_errors(data, "helpsteer2", container="jsonl") == []
    assert len(list(parse_file(_jsonl([*_pair("p1"), *_pair("p2")]), "helpsteer2", container="jsonl"))) == 2


def test_every_bad_row_is_reported_with_its_line() -> None:
    rows = [
        _comparison(),
        _comparison(response_1=7),  # line 2
        _comparison(),
        _comparison(preference_strength=9),  # line 4
        _comparison(response_2=None),  # line 5
        _comparison(),
    ]
    errors = find_format_errors(_jsonl(rows), "prefstack", container="jsonl")
    assert [(e.line, e.column) for e in errors] == [(2, "response_1"), (4, "preference_strength"), (5, "response_2")]


def test_a_bad_half_of_a_pair_is_reported_once_and_the_next_pairs_are_still_checked() -> None:
    rows = [
        *_pair("p1"),
        _half("p2", helpfulness=9),  # line 3: bad first half; its partner (line 4) must not become an orphan
        _half("p2"),
        *_pair("p3"),
        _half("p4"),
        _half("p4", verbosity=-1),  # line 8: bad second half
        *_pair("p5"),
    ]
    errors = find_format_errors(_jsonl(rows), "helpsteer2", container="jsonl")
    assert [(e.line, e.column) for e in errors] == [(3, "helpfulness"), (8, "verbosity")]


def test_the_list_stops_at_the_limit() -> None:
    rows = [_comparison(response_1=i) for i in range(30)]
    errors = find_format_errors(_jsonl(rows), "prefstack", container="jsonl", limit=5)
    assert [e.line for e in errors] == [1, 2, 3, 4, 5]


def test_a_file_that_cannot_be_read_further_ends_the_list() -> None:
    rows = [_comparison(response_1=1), "{not json", _comparison(response_1=2)]
    errors = find_format_errors(_jsonl(rows), "prefstack", container="jsonl")
    assert [e.line for e in errors] == [1, 2]
    assert "JSON" in str(errors[1]) or "json" in str(errors[1])


def test_problems_with_the_whole_file_are_one_error() -> None:
    (error,) = find_format_errors(_jsonl([]), "prefstack", container="jsonl")
    assert "empty" in str(error)
    (error,) = find_format_errors(io.BytesIO(b"a,b\n"), "helpsteer3", container="csv")
    assert "CSV" in str(error)
