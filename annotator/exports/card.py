"""The dataset card (README.md, Hugging Face convention) and the CC-BY-4.0 licence notice of a snapshot bundle.

The card's YAML front matter declares ``license: cc-by-4.0`` and one ``configs`` entry per export format whose
``data_files`` point at the Parquet file of each split, so an unzipped bundle loads with
``datasets.load_dataset("<folder>", "<format>")``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

from annotator.domain import HS3TaskConfig, Split
from annotator.exports.formats import EXPORT_FORMATS, ExportFormat
from annotator.exports.helpsteer3_tasks import TASK_FILES_FOLDER, task_file_relative_path
from annotator.exports.judge_columns import JUDGE_COLUMN_PREFIX, JUDGE_MARGIN, judge_rating_column
from annotator.exports.write import SPLITS, export_relative_path
from annotator.stats.aggregation import describe_parameter

CC_BY_4_0_URL = "https://creativecommons.org/licenses/by/4.0/"
CC_BY_4_0_LEGAL_CODE_URL = "https://creativecommons.org/licenses/by/4.0/legalcode"


class DataFile(TypedDict):
    """One ``data_files`` entry of a card config."""

    split: str
    path: str


class CardConfig(TypedDict):
    """One ``configs`` entry of the card's front matter."""

    config_name: str
    data_files: list[DataFile]
    default: NotRequired[bool]


@dataclass(frozen=True, slots=True)
class AttributeCard:
    """An attribute as the card describes it: name, meaning, and the wording of each scale level."""

    name: str
    description: str
    levels: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AgreementFigure:
    """One agreement figure with its confidence interval.

    Attributes
    ----------
    quantity
        What was rated ("helpfulness", "preference strength").
    statistic
        Which coefficient ("Krippendorff's alpha (interval)", "quadratic-weighted Cohen's kappa").
    value
        The point estimate.
    interval
        ``(low, high)`` of the confidence interval, or None.
    level
        Confidence level of the interval (0.95 = 95 %).
    units
        Number of items the figure rests on, when known.
    """

    quantity: str
    statistic: str
    value: float
    interval: tuple[float, float] | None = None
    level: float = 0.95
    units: int | None = None


def dataset_card_configs(
    formats: Sequence[ExportFormat] = EXPORT_FORMATS,
    splits: Sequence[Split] = SPLITS,
    *,
    default: ExportFormat | None = "helpsteer2-preference",
) -> list[CardConfig]:
    """The ``configs`` list of the card's front matter: one config per format, Parquet files per split."""
    configs: list[CardConfig] = []
    for fmt in formats:
        config: CardConfig = {
            "config_name": fmt,
            "data_files": [{"split": split, "path": export_relative_path(fmt, "parquet", split)} for split in splits],
        }
        if fmt == default:
            config["default"] = True
        configs.append(config)
    return configs


def task_card_configs(task_configs: Sequence[HS3TaskConfig], splits: Sequence[Split] = SPLITS) -> list[CardConfig]:
    """One ``configs`` entry per HelpSteer3 task config, named as HelpSteer3 names it, Parquet files per split."""
    return [
        {
            "config_name": config,
            "data_files": [{"split": s, "path": task_file_relative_path(config, "parquet", s)} for s in splits],
        }
        for config in task_configs
    ]


@dataclass(frozen=True)
class ModelMadeColumns:
    """Columns that a model made (the LLM judge's drafts), not people: of the canonical items, and of the export
    formats that carry them (format -> its judge columns)."""

    columns: Sequence[str]
    models: Sequence[str]  # the judge endpoints' model ids whose drafts went in
    items: int  # items with a draft
    exports: Mapping[ExportFormat, Sequence[str]] = field(default_factory=dict)


def _model_made_section(model_made: ModelMadeColumns) -> list[str]:
    """Which columns are model-made and by which model; they are not human labels."""
    models = ", ".join(f"`{m}`" for m in model_made.models) or "none (the judge drafted none of these items)"
    carried = ", ".join(f"`{fmt}`" for fmt in model_made.exports)
    lines = [
        "## Model-made columns",
        "",
        "These columns of the canonical items (`items.parquet`) are an LLM judge's drafts, **not human labels**: "
        "no label, kept preference, annotation or agreement figure of this dataset comes from them, and the "
        "HelpSteer2- and HelpSteer3-compatible files do not carry them. Null where the judge drafted nothing for "
        "the comparison.",
        "",
        *(f"- `{name}`" for name in model_made.columns),
        "",
    ]
    if model_made.exports:
        lines += [
            f"The trainer-ready files ({carried}) carry the same drafts as optional model-made columns after their "
            f"own, in their own terms: `{JUDGE_MARGIN}` is the judge's preference strength for `chosen` over "
            "`rejected` (−3…+3, positive where it agrees with the people), "
            f"`{judge_rating_column('<attribute>', 'chosen')}` / `{judge_rating_column('<attribute>', 'rejected')}` "
            f"its ratings of each, and a regression row's `{judge_rating_column('<attribute>', '')}` its rating of "
            f"that row's response. Drop every `{JUDGE_COLUMN_PREFIX}` column to train on human labels only.",
            "",
            *(f"- `{fmt}`: " + ", ".join(f"`{name}`" for name in names) for fmt, names in model_made.exports.items()),
            "",
        ]
    return [*lines, f"Judge model: {models}. Items with a draft: {model_made.items:,}.", ""]


def render_dataset_card(
    *,
    title: str,
    summary: str,
    collection: str,
    attributes: Sequence[AttributeCard],
    aggregation_rule: str,
    aggregation_parameters: Mapping[str, object],
    agreement: Sequence[AgreementFigure],
    counts: Mapping[str, int],
    attribution: str,
    limitations: Sequence[str],
    formats: Sequence[ExportFormat] = EXPORT_FORMATS,
    splits: Sequence[Split] = SPLITS,
    version: str | None = None,
    languages: Sequence[str] = ("en",),
    task_configs: Sequence[HS3TaskConfig] = (),
    model_made: ModelMadeColumns | None = None,
) -> str:
    """Render a snapshot's README.md dataset card.

    Parameters
    ----------
    title, summary
        Dataset name and what the dataset is.
    collection
        How it was collected (annotators, overlap, interface, review).
    attributes
        The rated attributes with their scale wording.
    aggregation_rule, aggregation_parameters
        The aggregation rule's name and its parameters (e.g. ``{"keep": 3, "max_range": 2}``).
    agreement
        Agreement figures with intervals, computed by the caller.
    counts
        Comparisons per split.
    attribution
        Who to credit under CC-BY-4.0 (e.g. "Example Lab, Prefstack snapshot v3").
    limitations
        Known limitations, one per bullet.
    formats, splits
        What the bundle holds (the ``configs`` of the front matter).
    version
        Snapshot version, if any.
    languages
        ISO 639-1 codes of the text.
    task_configs
        The HelpSteer3 task configs the snapshot holds (feedback, edit, edit_quality), each one more ``configs``
        entry whose files are ``helpsteer3-tasks/<config>/<split>.parquet``.
    model_made
        The model-made (LLM judge) columns of the canonical items, if any: a "Model-made columns" section says
        which they are, which model made them, and that they are not human labels.
    """
    default: ExportFormat | None = "helpsteer2-preference" if "helpsteer2-preference" in formats else None
    if default is None and formats:
        default = formats[0]
    configs = dataset_card_configs(formats, splits, default=default) + task_card_configs(task_configs, splits)
    if configs and not any(c.get("default") for c in configs):
        configs[0]["default"] = True
    lines = ["---", *_front_matter(title, languages, configs), "---", ""]
    lines += [f"# {title}" + (f" ({version})" if version else ""), "", "## What this is", "", summary.strip(), ""]
    lines += ["## How it was collected", "", collection.strip(), ""]
    lines += _attribute_section(attributes)
    lines += _aggregation_section(aggregation_rule, aggregation_parameters)
    lines += _agreement_section(agreement)
    lines += ["", "## Counts", "", "| split | comparisons |", "|---|---:|"]
    lines += [f"| {split} | {count:,} |" for split, count in counts.items()]
    lines += _files_section(formats)
    lines += [
        f"- `{TASK_FILES_FOLDER}/{config}/`: HelpSteer3's `{config}` config in its released field names, Parquet "
        f'(`<split>.parquet`, `load_dataset(folder, "{config}")`) and JSONL (`<split>.jsonl.gz`)'
        for config in task_configs
    ]
    if model_made is not None:
        lines += ["", *_model_made_section(model_made)]
    lines += _licence_and_limitations(attribution, limitations)
    return "\n".join(lines)


def _attribute_section(attributes: Sequence[AttributeCard]) -> list[str]:
    """Each attribute with its scale wording, then the preference strength's scale."""
    lines = ["## Attributes and scales", ""]
    for attribute in attributes:
        lines.append(f"### {attribute.name}")
        lines += ["", attribute.description.strip(), ""]
        lines += [f"- **{level}**: {wording}" for level, wording in sorted(attribute.levels.items())]
        lines.append("")
    return [
        *lines,
        "### Preference strength",
        "",
        "-3 (response 1 much better) … 0 (about the same) … +3 (response 2 much better); negative means response 1 is "
        "better, as in HelpSteer2-Preference.",
        "",
    ]


def _aggregation_section(rule: str, parameters: Mapping[str, object]) -> list[str]:
    """The rule and each of its parameters with what its value does (the preference-spread threshold included)."""
    lines = ["## Aggregation", "", f"Rule: **{rule}**.", ""]
    for name, value in parameters.items():
        meaning = describe_parameter(name, value)
        lines.append(f"- `{name}`: {value}" + (f" — {meaning}" if meaning else ""))
    return lines


def _agreement_section(agreement: Sequence[AgreementFigure]) -> list[str]:
    """A table of agreement figures with their intervals, or a sentence saying there are none."""
    lines = ["", "## Agreement", ""]
    if not agreement:
        return [*lines, "No agreement figures were computed for this snapshot."]
    lines += ["| quantity | statistic | value | interval | items |", "|---|---|---:|---|---:|"]
    for figure in agreement:
        interval = (
            f"{figure.level:.0%} CI [{figure.interval[0]:.3f}, {figure.interval[1]:.3f}]" if figure.interval else "—"
        )
        units = "—" if figure.units is None else f"{figure.units:,}"
        lines.append(f"| {figure.quantity} | {figure.statistic} | {figure.value:.3f} | {interval} | {units} |")
    return lines


def _files_section(formats: Sequence[ExportFormat]) -> list[str]:
    """Where each format's files are and how to check them."""
    lines = ["", "## Files", ""]
    lines += [
        f'- `{fmt}/`: Parquet (`<split>.parquet`, load with `load_dataset(folder, "{fmt}")`) and JSONL '
        f"(`<split>.jsonl.gz`)"
        for fmt in formats
    ]
    return [*lines, "", "`MANIFEST` lists the SHA-256 of every file (`sha256sum -c MANIFEST`).", ""]


def _licence_and_limitations(attribution: str, limitations: Sequence[str]) -> list[str]:
    """The CC-BY-4.0 terms with whom to credit, then the known limitations (one bullet each)."""
    lines = [
        "## Licence",
        "",
        f"Creative Commons Attribution 4.0 International (CC-BY-4.0), {CC_BY_4_0_URL}. When you use or share this "
        f"dataset, credit: {attribution.strip()}; link to the licence; and say if you changed it.",
        "",
        "## Known limitations",
        "",
    ]
    lines += [f"- {limitation.strip()}" for limitation in limitations] or ["- None recorded."]
    lines.append("")
    return lines


def _front_matter(title: str, languages: Sequence[str], configs: list[CardConfig]) -> list[str]:
    """YAML lines of the card's metadata; strings are written as JSON strings, which YAML reads as they are."""
    quote = json.dumps
    lines = ["license: cc-by-4.0", f"pretty_name: {quote(title)}", "language:"]
    lines += [f"- {quote(code)}" for code in languages]
    lines += ["task_categories:", "- text-classification", "tags:"]
    lines += [f"- {tag}" for tag in ("human-feedback", "preference", "reward-modeling", "helpsteer2")]
    lines.append("configs:")
    for config in configs:
        lines.append(f"- config_name: {quote(config['config_name'])}")
        if config.get("default"):
            lines.append("  default: true")
        lines.append("  data_files:")
        for data_file in config["data_files"]:
            lines += [f"  - split: {quote(data_file['split'])}", f"    path: {quote(data_file['path'])}"]
    return lines


def license_notice(attribution: str, *, year: int | None = None) -> str:
    """A short CC-BY-4.0 notice for the bundle's LICENSE file, pointing at the canonical legal code."""
    holder = f"Copyright (c) {year} {attribution.strip()}" if year else f"Copyright (c) {attribution.strip()}"
    return (
        f"{holder}\n\n"
        "This dataset is licensed under the Creative Commons Attribution 4.0 International License (CC BY 4.0).\n\n"
        "You are free to share (copy and redistribute the material in any medium or format) and adapt (remix,\n"
        "transform, and build upon the material) for any purpose, even commercially, under the following term:\n"
        "Attribution: you must give appropriate credit, provide a link to the license, and indicate if changes\n"
        "were made. You may not apply legal terms or technological measures that legally restrict others from\n"
        "doing anything the license permits.\n\n"
        f"Summary: {CC_BY_4_0_URL}\n"
        f"Full legal code: {CC_BY_4_0_LEGAL_CODE_URL}\n"
    )
