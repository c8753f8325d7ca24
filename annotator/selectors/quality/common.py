"""What the quality pages share: which annotations count, the measures' labels, NaN as "n/a"."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from annotator.domain import LIKERT_MAX, LIKERT_MIN
from annotator.models import Project
from annotator.selectors.annotations import REVIEW_REJECTED

PREFERENCE_MEASURES = ("preference_strength", "preference_direction")
MEASURE_LABELS = {"preference_strength": "preference strength", "preference_direction": "preference direction"}


def project_likert_domain(project: Project) -> np.ndarray:
    """Every scale point of the project's attributes (their widest range), for the agreement statistics."""
    bounds = project.attributes.values_list("scale_min", "scale_max")
    lows, highs = zip(*bounds, strict=True) if bounds else ((LIKERT_MIN,), (LIKERT_MAX,))
    return np.arange(min(lows), max(highs) + 1, dtype=np.float64)


def finite(x: Any) -> float | None:
    """A float for templates and JSON; None for NaN ("not measurable" shows as n/a, never as 0)."""
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None


def counted_annotations(frame: pd.DataFrame) -> pd.DataFrame:
    """The annotations the overview and the disagreement queue count: rejected ones are left out."""
    if "review_status" not in frame:
        return frame
    return frame[frame["review_status"].to_numpy() != REVIEW_REJECTED]
