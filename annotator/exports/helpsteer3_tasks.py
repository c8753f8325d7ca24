"""HelpSteer3 ``feedback``, ``edit`` and ``edit_quality`` rows -> their released files (JSONL, JSONL.gz, Parquet).
Pure: no Django.

Field names and order are the dataset's (:data:`annotator.domain.HS3_TASK_COLUMNS`); ``context`` is the
``[{"role", "content"}]`` list. What :mod:`annotator.imports.helpsteer3_tasks` reads, this writes back unchanged.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from annotator.domain import HS3_TASK_COLUMNS, HS3TaskConfig, HS3TaskRow, Turn
from annotator.imports.turns import render_helpsteer2_prompt

TaskFileKind = Literal["jsonl", "jsonl.gz", "parquet"]
TASK_FILE_KINDS: tuple[TaskFileKind, ...] = ("parquet", "jsonl.gz")
"""What a snapshot holds of each split (as for every export format)."""


def task_row_dict(row: HS3TaskRow) -> dict[str, object]:
    """One row in the released field names, in the released column order."""
    values: dict[str, object] = {
        "domain": row.domain,
        "language": row.language,
        "context": [{"role": t.role, "content": t.content} for t in row.turns],
    }
    if row.config == "feedback":
        values |= {"response1": row.response_1, "response2": row.response_2,
                   "feedback1": list(row.feedback_1), "feedback2": list(row.feedback_2)}  # fmt: skip
    elif row.config == "edit":
        values |= {"original_response": row.response_1, "edited_response": row.edited,
                   "feedback": list(row.feedback), "change_summary": row.change_summary}  # fmt: skip
    else:
        values |= {"original_response": row.response_1, "good_edited_response": row.good_edit,
                   "bad_edited_response": row.bad_edit, "feedback": list(row.feedback)}  # fmt: skip
    return {column: values[column] for column in HS3_TASK_COLUMNS[row.config]}


def _schema(config: HS3TaskConfig) -> pa.Schema:
    texts = pa.list_(pa.string())
    context = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    types = {"context": context, "feedback1": texts, "feedback2": texts, "feedback": texts}
    return pa.schema([(column, types.get(column, pa.string())) for column in HS3_TASK_COLUMNS[config]])


def write_task_file(rows: Iterable[HS3TaskRow], config: HS3TaskConfig, kind: TaskFileKind) -> bytes:
    """The file of ``rows`` (all of ``config``) as bytes; rows of another config raise ValueError."""
    dicts = []
    for row in rows:
        if row.config != config:
            raise ValueError(f"a {row.config} row in a {config} file")
        dicts.append(task_row_dict(row))
    if kind == "parquet":
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(dicts, schema=_schema(config)), sink)
        return sink.getvalue()
    text = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dicts).encode("utf-8")
    return gzip.compress(text, mtime=0) if kind == "jsonl.gz" else text


TASK_FILES_FOLDER = "helpsteer3-tasks"
"""Where a snapshot keeps its task files: ``helpsteer3-tasks/<config>/<split>.<parquet|jsonl.gz>`` (HelpSteer3's layout,
``<config>/<split>.jsonl.gz``, under one folder, beside the preference config's ``helpsteer3/``)."""


def task_file_relative_path(config: HS3TaskConfig, kind: TaskFileKind, split: str) -> str:
    """``helpsteer3-tasks/feedback/train.parquet`` and the like."""
    return f"{TASK_FILES_FOLDER}/{config}/{split}.{kind}"


# --- edit pairs for the trainer (off by default) ---------------------------------------------------------------

EDIT_PAIR_FLAG = "from_edit"
"""The column that marks a preference pair made from an edit (edited response chosen over the original)."""


def edit_preference_pairs(rows: Iterable[HS3TaskRow]) -> list[dict[str, object]]:
    """Each edit as a TRL preference pair, edited ≻ original, in the comparison snapshots' ``trl-preference``
    columns (``id``, ``split``, ``prompt``, ``chosen``, ``rejected``, ``margin``) plus ``from_edit`` (always True), so
    the file can be appended to a comparison snapshot's. ``margin`` is empty: an edit states no strength. ``id`` is
    ``edit-<n>`` in row order; ``split`` is the row's (``HS3TaskRow`` has none: the caller passes rows of one split).

    >>> from annotator.domain import Turn
    >>> row = HS3TaskRow(config="edit", turns=(Turn("user", "2+2?"),), response_1="5", edited="4")
    >>> edit_preference_pairs([row])[0] | {}
    {'id': 'edit-1', 'split': '', 'prompt': '2+2?', 'chosen': '4', 'rejected': '5', 'margin': None, 'from_edit': True}
    """
    pairs: list[dict[str, object]] = []
    for n, row in enumerate((r for r in rows if r.config == "edit" and r.edited), 1):
        pairs.append({
            "id": f"edit-{n}", "split": "", "prompt": prompt_text(row.turns), "chosen": row.edited,
            "rejected": row.response_1, "margin": None, EDIT_PAIR_FLAG: True,
        })  # fmt: skip
    return pairs


def prompt_text(turns: tuple[Turn, ...]) -> str:
    """The prompt as the ``trl-preference`` format writes it: the one user turn, else HelpSteer2's joined string."""
    if len(turns) == 1 and turns[0].role == "user":
        return turns[0].content
    return render_helpsteer2_prompt(turns)


def write_edit_pairs(pairs: list[dict[str, object]], kind: TaskFileKind, split: str = "") -> bytes:
    """The pairs as a file (``split`` written into each row)."""
    rows = [{**p, "split": split or p["split"]} for p in pairs]
    if kind == "parquet":
        schema = pa.schema([("id", pa.string()), ("split", pa.string()), ("prompt", pa.string()),
                            ("chosen", pa.string()), ("rejected", pa.string()), ("margin", pa.float64()),
                            (EDIT_PAIR_FLAG, pa.bool_())])  # fmt: skip
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink)
        return sink.getvalue()
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    return gzip.compress(text, mtime=0) if kind == "jsonl.gz" else text
