"""Agreement of the task types: ordinal alpha of the feedback openings (with the responses' helpfulness ratings as
one more rater), nominal alpha of the edit-quality choices; checked against the reference package on the same data."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from annotator.models import Comparison, SourceLabel, TaskResult, TaskType
from annotator.selectors.task_units import edit_choice_alpha, feedback_helpfulness_alpha
from tests.factories import ProjectFactory, TaskUnitFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_feedback_alpha_is_ordinal_over_responses_with_the_ratings_as_a_rater() -> None:
    project = ProjectFactory(task_type=TaskType.FEEDBACK)
    units = [TaskUnitFactory(project=project) for _ in range(3)]
    writers = [UserFactory() for _ in range(2)]
    levels = {0: ((4, 1), (3, 1)), 1: ((2, 2), (2, 3)), 2: ((0, 4), (1, 4))}  # unit -> per writer (h1, h2)
    for i, unit in enumerate(units):
        for writer, (h1, h2) in zip(writers, levels[i], strict=True):
            TaskResult.objects.create(unit=unit, annotator=writer, source="x", helpfulness_1=h1, helpfulness_2=h2)
    # Response 1 of the first unit also has helpfulness ratings (mean 3.5 -> 4) from a comparison's source labels.
    comparison = Comparison.objects.create(project=project, prompt=units[0].prompt, response_1=units[0].response_1,
                                           response_2=units[0].response_2)  # fmt: skip
    for h in (3, 4):
        SourceLabel.objects.create(comparison=comparison, source="s", ratings={"1": {"helpfulness": h}, "2": {}})
    nan = math.nan
    data = [[4, 1, 2, 2, 0, 4], [3, 1, 2, 3, 1, 4], [4, nan, nan, nan, nan, nan]]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=range(5))
    assert feedback_helpfulness_alpha(project=project) == pytest.approx(expected)


def test_edit_choice_alpha_is_nominal_and_nan_without_pairs() -> None:
    project = ProjectFactory(task_type=TaskType.EDIT_QUALITY)
    assert math.isnan(edit_choice_alpha(project=project))
    units = [TaskUnitFactory(project=project, response_2=None) for _ in range(4)]
    a, b = UserFactory(), UserFactory()
    for unit, (x, y) in zip(units, [(1, 1), (2, 2), (1, 2), (1, 1)], strict=True):
        TaskResult.objects.create(unit=unit, annotator=a, source="x", choice=x)
        TaskResult.objects.create(unit=unit, annotator=b, source="x", choice=y)
    expected = krippendorff.alpha(reliability_data=np.array([[1, 2, 1, 1], [1, 2, 2, 1]], dtype=float),
                                  level_of_measurement="nominal")  # fmt: skip
    assert edit_choice_alpha(project=project) == pytest.approx(expected)
