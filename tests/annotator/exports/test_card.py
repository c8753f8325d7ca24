from __future__ import annotations

import yaml

from annotator.exports import (
    EXPORT_FORMATS,
    AgreementFigure,
    AttributeCard,
    dataset_card_configs,
    license_notice,
    render_dataset_card,
)


def _card() -> str:
    return render_dataset_card(
        title='Demo "preferences"',
        summary="Pairs of answers to coding questions, rated and compared.",
        collection="Three annotators per comparison; two more when helpfulness ranged over 2.",
        attributes=[
            AttributeCard("helpfulness", "Overall helpfulness.", {0: "not helpful at all", 4: "perfectly helpful"}),
        ],
        aggregation_rule="three most agreeing, rounded mean",
        aggregation_parameters={"keep": 3, "max_range": 2},
        agreement=[
            AgreementFigure("helpfulness", "Krippendorff's alpha (interval)", 0.7912, (0.75, 0.83), units=420),
            AgreementFigure("preference strength", "quadratic-weighted Cohen's kappa", 0.5),
        ],
        counts={"train": 1900, "validation": 100},
        attribution="Example Lab, Demo preferences v1",
        limitations=["English only.", "Responses from two small models."],
        version="v1",
    )


def test_the_front_matter_declares_the_licence_and_a_config_per_format() -> None:
    card = _card()
    assert card.startswith("---\n")
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["license"] == "cc-by-4.0"
    assert front["pretty_name"] == 'Demo "preferences"'
    assert [c["config_name"] for c in front["configs"]] == list(EXPORT_FORMATS)
    preference = next(c for c in front["configs"] if c["config_name"] == "helpsteer2-preference")
    assert preference["default"] is True
    assert preference["data_files"] == [
        {"split": "train", "path": "helpsteer2-preference/train.parquet"},
        {"split": "validation", "path": "helpsteer2-preference/validation.parquet"},
    ]
    assert front["configs"] == [dict(c) for c in dataset_card_configs(default="helpsteer2-preference")]


def test_the_body_has_every_section_with_the_caller_s_figures() -> None:
    card = _card()
    for heading in (
        '# Demo "preferences" (v1)',
        "## What this is",
        "## How it was collected",
        "## Attributes and scales",
        "## Aggregation",
        "## Agreement",
        "## Counts",
        "## Licence",
        "## Known limitations",
    ):
        assert f"\n{heading}\n" in card
    assert "| helpfulness | Krippendorff's alpha (interval) | 0.791 | 95% CI [0.750, 0.830] | 420 |" in card
    assert "| preference strength | quadratic-weighted Cohen's kappa | 0.500 | — | — |" in card
    assert "- **0**: not helpful at all" in card
    assert "- `max_range`: 2" in card
    assert "| train | 1,900 |" in card
    assert "credit: Example Lab, Demo preferences v1" in card
    assert "- English only." in card


def test_the_licence_notice_names_cc_by_4_and_its_canonical_url() -> None:
    text = license_notice("Example Lab", year=2026)
    assert text.startswith("Copyright (c) 2026 Example Lab\n")
    assert "Creative Commons Attribution 4.0 International" in text
    assert "https://creativecommons.org/licenses/by/4.0/legalcode" in text


def test_the_aggregation_section_says_what_each_parameter_does() -> None:
    card = render_dataset_card(
        title="t", summary="s", collection="c", attributes=[], aggregation_rule="helpsteer2 v1 (helpsteer2)",
        aggregation_parameters={"keep": 3, "max_strength_spread": None}, agreement=[], counts={}, attribution="a",
        limitations=[],
    )  # fmt: skip
    assert "- `max_strength_spread`: None — no comparison is dropped for disagreement on the preference: kept " in card
    assert "[-3, 0, 3] aggregate to 0" in card
    assert "- `keep`: 3 — the 3 annotations that agree most are kept" in card
