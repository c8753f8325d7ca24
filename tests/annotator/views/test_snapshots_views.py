"""Researcher snapshot pages: list with status, polling partial, creating, the card rendered, download links."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from annotator.models import Role, Snapshot
from annotator.services.snapshots.lifecycle import snapshot_build, snapshot_create
from annotator.tasks import snapshot_build_task
from tests.annotator.services.test_snapshots import annotate
from tests.factories import ComparisonFactory, ProjectFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client: Any) -> dict[str, Any]:
    project = ProjectFactory()
    researcher = member(project, Role.RESEARCHER)
    annotate(ComparisonFactory(project=project), member(project, Role.ANNOTATOR), 2, 3, 1)
    client.force_login(researcher)
    return {"project": project, "researcher": researcher, "client": client}


def test_create_from_the_page_and_poll_while_building(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    client, project = world["client"], world["project"]
    url = f"/p/{project.slug}/snapshots/"
    with mock.patch.object(snapshot_build_task, "delay") as delay, django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"name": "first"})
    assert response.status_code == 302
    assert delay.called
    page = client.get(url).content.decode()
    assert "pending" in page
    assert 'hx-trigger="every 2s"' in page
    partial = client.get(url, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in partial.content.decode()
    snapshot_build(snapshot_id=Snapshot.objects.get().id)
    done = client.get(url, headers={"HX-Request": "true"})
    assert done.status_code == 286  # htmx: stop polling
    assert "ready" in done.content.decode()


def test_detail_renders_the_card_and_downloads(world: dict[str, Any]) -> None:
    with mock.patch.object(snapshot_build_task, "delay"):
        snapshot = snapshot_create(project=world["project"], user=world["researcher"])
    snapshot_build(snapshot_id=snapshot.id)
    page = world["client"].get(f"/p/{world['project'].slug}/snapshots/1/").content.decode()
    assert "<h2>Licence</h2>" in page
    assert "license: cc-by-4.0" not in page
    assert f"/api/v1/snapshots/{snapshot.id}/download/?export=trl-preference&amp;file_type=parquet" in page


def test_bad_rule_is_shown_in_place(world: dict[str, Any]) -> None:
    response = world["client"].post(f"/p/{world['project'].slug}/snapshots/", {"rule": "nope"})
    assert response.status_code == 400
    assert "No aggregation rule named" in response.content.decode()


def test_annotators_and_outsiders_are_kept_out(world: dict[str, Any], client: Any) -> None:
    client.force_login(member(world["project"], Role.ANNOTATOR))
    assert client.get(f"/p/{world['project'].slug}/snapshots/").status_code == 403
    client.force_login(member(ProjectFactory(), Role.RESEARCHER))
    assert client.get(f"/p/{world['project'].slug}/snapshots/").status_code == 404
