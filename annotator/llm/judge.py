"""The LLM judge's prompt and answer: a template rendered per comparison, a JSON schema, and the check of an answer
against it. Pure (no Django).

The default template asks, like the annotators' form, for every attribute of the project on its scale for each
response, a preference strength on HelpSteer2-Preference's −3…+3 scale (negative: response 1 is better), a
confidence 0…1 that the preferred response is the better one, and a one-line reason, as one JSON object that
follows :func:`answer_schema` (and, for an endpoint that accepts it, asked as OpenAI's structured output,
:func:`response_format`). The answer is parsed from the model's text (a JSON object, optionally fenced) and
checked against that schema by :func:`parse_answer`, either way, which raises :class:`JudgeAnswerError` with the reason (not
JSON, a key missing, a value off its scale …): the job records it on the item instead of failing.

Placeholders of a template: ``{attributes}`` (one line per attribute with its scale), ``{schema}`` (the JSON
schema), ``{conversation}`` (the prompt's turns), ``{response_1}``, ``{response_2}``; ``{{`` and ``}}`` are
literal braces.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from annotator.domain import PREFERENCE_STRENGTH_MAX, PREFERENCE_STRENGTH_MIN, Turn

PLACEHOLDERS: frozenset[str] = frozenset({"attributes", "schema", "conversation", "response_1", "response_2"})
REQUIRED_PLACEHOLDERS: frozenset[str] = frozenset({"conversation", "response_1", "response_2"})
REASON_MAX_CHARS = 500
"""A reason longer than this is cut (the template asks for one line)."""

DEFAULT_TEMPLATE = (
    """You are an expert evaluator of AI assistant responses. Read the conversation and the two \
candidate responses to its last user turn, then rate each response and compare them.

Rate each response on these attributes (whole numbers on the scale given):
{attributes}

Then give a preference strength """
    + f"from {PREFERENCE_STRENGTH_MIN} to {PREFERENCE_STRENGTH_MAX}"
    + """: -3 = Response 1 is much better, -2 = better, -1 = slightly better, \
1 = Response 2 is slightly better, 2 = better, 3 = much better (0 only if they are truly equal); a confidence from \
0 to 1 that the response you prefer is really the better one; and a one-line reason.

Answer with one JSON object and nothing else, following this JSON schema:
{schema}

[Conversation]
{conversation}

[Response 1]
{response_1}

[Response 2]
{response_2}
"""
)


@dataclass(frozen=True)
class AttributeScale:
    """One attribute the judge rates: its name, description and scale."""

    name: str
    low: int
    high: int
    description: str = ""


@dataclass(frozen=True)
class JudgeAnswer:
    """A checked answer. ``ratings``: ``{"1": {attribute: value}, "2": {...}}`` (response 1 and 2)."""

    ratings: dict[str, dict[str, int]]
    preference_strength: int
    confidence: float | None
    reason: str


class JudgeAnswerError(ValueError):
    """The answer does not match the schema; the message says where."""


def answer_schema(attributes: Sequence[AttributeScale]) -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of an answer for these attributes."""
    rating = {
        "type": "object",
        "properties": {a.name: {"type": "integer", "minimum": a.low, "maximum": a.high} for a in attributes},
        "required": [a.name for a in attributes],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "response_1": rating,
            "response_2": rating,
            "preference_strength": {
                "type": "integer",
                "minimum": PREFERENCE_STRENGTH_MIN,
                "maximum": PREFERENCE_STRENGTH_MAX,
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "reason": {"type": "string", "minLength": 1},
        },
        "required": ["response_1", "response_2", "preference_strength", "reason"],
        "additionalProperties": False,
    }


ANSWER_SCHEMA_NAME = "judge_answer"


def response_format(attributes: Sequence[AttributeScale]) -> dict[str, Any]:
    """OpenAI's structured-output request for an answer following :func:`answer_schema`: sent as the request's
    ``response_format`` when the endpoint is marked to accept it. Not ``strict`` (OpenAI's strict mode wants every
    key required, and ``confidence`` is optional); :func:`parse_answer` checks the answer either way.

    >>> response_format([AttributeScale("helpfulness", 0, 4)])["json_schema"]["name"]
    'judge_answer'
    """
    return {"type": "json_schema", "json_schema": {"name": ANSWER_SCHEMA_NAME, "schema": answer_schema(attributes)}}


def template_problems(template: str) -> list[str]:
    """What is wrong with a template (unknown or missing placeholders, bad braces); empty when usable.

    >>> template_problems("{conversation} {response_1} {response_2}")
    []
    >>> template_problems("{conversation} {response_1} {score}")
    ['unknown placeholder {score}', 'missing placeholder {response_2}']
    """
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        return [f"unbalanced braces ({exc}); write {{{{ and }}}} for literal braces"]
    problems = [f"unknown placeholder {{{n}}}" for n in dict.fromkeys(names) if n not in PLACEHOLDERS]
    problems += [f"missing placeholder {{{n}}}" for n in sorted(REQUIRED_PLACEHOLDERS - set(names))]
    return problems


def _conversation(turns: Sequence[Turn]) -> str:
    return "\n\n".join(f"{t.role.capitalize()}: {t.content}" for t in turns)


def render_prompt(
    template: str, *, attributes: Sequence[AttributeScale], turns: Sequence[Turn], response_1: str, response_2: str
) -> list[Turn]:
    """The messages sent to the judge for one comparison (one user message)."""
    lines = "\n".join(
        f"- {a.name} ({a.low} to {a.high}){': ' + a.description if a.description else ''}" for a in attributes
    )
    text = template.format(
        attributes=lines,
        schema=json.dumps(answer_schema(attributes), indent=1),
        conversation=_conversation(turns),
        response_1=response_1,
        response_2=response_2,
    )
    return [Turn(role="user", content=text)]


_FENCED = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.DOTALL)


def _json_object(text: str) -> Any:
    """The JSON object in the answer: the whole text, a fenced block, or the first ``{`` to the last ``}``."""
    candidates = [text.strip()]
    fenced = _FENCED.search(text)
    if fenced:
        candidates.append(fenced.group(1))
    if "{" in text and "}" in text:
        candidates.append(text[text.index("{") : text.rindex("}") + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise JudgeAnswerError("The answer is not JSON.")


def _integer(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise JudgeAnswerError(f"{where} must be a whole number from {low} to {high}, not {value!r}.")
    if not low <= int(value) <= high:
        raise JudgeAnswerError(f"{where} is {int(value)}, outside {low} to {high}.")
    return int(value)


def _ratings(value: object, where: str, attributes: Sequence[AttributeScale]) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise JudgeAnswerError(f"{where} must be an object of ratings.")
    unknown = sorted(set(value) - {a.name for a in attributes})
    if unknown:
        raise JudgeAnswerError(f"{where} has unknown attributes: {', '.join(map(str, unknown))}.")
    out = {}
    for a in attributes:
        if a.name not in value:
            raise JudgeAnswerError(f"{where}.{a.name} is missing.")
        out[a.name] = _integer(value[a.name], f"{where}.{a.name}", a.low, a.high)
    return out


def parse_answer(text: str, attributes: Sequence[AttributeScale]) -> JudgeAnswer:
    """Check the judge's answer text against :func:`answer_schema`; :class:`JudgeAnswerError` with the reason."""
    data = _json_object(text)
    if not isinstance(data, Mapping):
        raise JudgeAnswerError("The answer is JSON but not an object.")
    allowed = {"response_1", "response_2", "preference_strength", "confidence", "reason"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise JudgeAnswerError(f"Unknown keys: {', '.join(map(str, unknown))}.")
    for key in ("response_1", "response_2", "preference_strength", "reason"):
        if key not in data:
            raise JudgeAnswerError(f"{key} is missing.")
    ratings = {side: _ratings(data[f"response_{side}"], f"response_{side}", attributes) for side in ("1", "2")}
    strength = _integer(
        data["preference_strength"], "preference_strength", PREFERENCE_STRENGTH_MIN, PREFERENCE_STRENGTH_MAX
    )
    confidence = data.get("confidence")
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not math.isfinite(confidence):
            raise JudgeAnswerError(f"confidence must be a number from 0 to 1, not {confidence!r}.")
        if not 0 <= confidence <= 1:
            raise JudgeAnswerError(f"confidence is {confidence}, outside 0 to 1.")
        confidence = float(confidence)
    reason = data["reason"]
    if not isinstance(reason, str) or not reason.strip():
        raise JudgeAnswerError("reason must be a non-empty text.")
    return JudgeAnswer(ratings, strength, confidence, reason.strip()[:REASON_MAX_CHARS])
