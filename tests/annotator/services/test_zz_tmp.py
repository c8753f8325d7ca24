import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from tests.annotator.services.test_annotation_submit import _setup, _ratings, _submit
@pytest.mark.django_db
def test_q():
    a, annotator = _setup()
    r = _ratings(a)
    with CaptureQueriesContext(connection) as c:
        _submit(a, annotator, ratings_shown=r)
    for q in c.captured_queries: print(q["sql"][:160])
