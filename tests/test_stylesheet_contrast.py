"""Notices, warnings and badges in static/css/app.css meet WCAG 2.x AA contrast (4.5:1 for normal text), computed
from the stylesheet's own colours (variables resolved), so a palette change that breaks it fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parent.parent / "static" / "css" / "app.css").read_text()
VARIABLES = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", CSS.split("}", 1)[0]))


def _declarations(selector: str) -> dict[str, str]:
    """The declarations of the rule whose selector is exactly ``selector`` (several rules may share a line)."""
    match = re.search(r"(?:^|[}\s])" + re.escape(selector) + r"\s*\{([^}]*)\}", CSS, re.MULTILINE)
    assert match, f"no rule for {selector}"
    return {k.strip(): v.strip() for k, v in (d.split(":", 1) for d in match.group(1).split(";") if ":" in d)}


def _colour(value: str) -> str:
    value = re.sub(r"var\(--([\w-]+)\)", lambda m: VARIABLES[m.group(1)], value)
    hex_ = value.lstrip("#")
    return hex_ if len(hex_) == 6 else "".join(c * 2 for c in hex_)


def _luminance(hex_: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(hex_[i : i + 2], 16) / 255) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(_colour(a)), _luminance(_colour(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_matches_the_wcag_definition() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#777777", "#fff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize(
    "selector", [".ws-notice", ".ws-notice.warning", ".badge", ".badge.ok", ".badge.bad", ".badge.warn"]
)
def test_notices_and_badges_meet_aa(selector: str) -> None:
    rule = _declarations(selector)
    assert contrast(rule["color"], rule["background"]) >= 4.5


@pytest.mark.parametrize("background", ["var(--bg)", "var(--panel)", "#fff8ec"])  # page, cards, the lead's note
@pytest.mark.parametrize("selector", [".warning", ".muted", ".error, .errorlist"])
def test_coloured_text_meets_aa_on_the_page_backgrounds(selector: str, background: str) -> None:
    assert contrast(_declarations(selector)["color"], background) >= 4.5


@pytest.mark.parametrize(
    "selector",
    [".md pre .k, .md pre .kn, .md pre .kd", ".md pre .s, .md pre .s1, .md pre .s2",
     ".md pre .c, .md pre .c1, .md pre .cm", ".md pre .nf, .md pre .nc", ".md pre .mi, .md pre .mf"],
)  # fmt: skip
def test_highlighted_code_meets_aa_on_the_code_background(selector: str) -> None:
    assert contrast(_declarations(selector)["color"], _declarations(".md pre")["background"]) >= 4.5
