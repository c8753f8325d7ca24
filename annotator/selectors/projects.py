"""Reads about projects and who may do what in them."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Q, QuerySet

from annotator.errors import NotFound, PermissionDenied
from annotator.models import AssignmentStatus, Attribute, Membership, Project, Role
from annotator.selectors import hot_path


def project_roles(*, project: Project, user: User | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.filter(project=project, user=user).values_list("role", flat=True))


def project_get_for_role(*, slug: str, user: User | AnonymousUser, roles: Collection[str] | None = None) -> Project:
    """The project named ``slug`` if ``user`` holds one of ``roles`` in it (any role when None).

    A non-member gets NotFound, never a hint that the project exists; a member without the role gets PermissionDenied.
    """
    if not user.is_authenticated:
        raise NotFound("No such project.")
    # One query: the user's roles in the project, with the project (none: not a member, or no such project).
    held, project = hot_path.memberships_with_project(slug=slug, user_id=user.pk)
    if project is None:
        raise NotFound("No such project.")
    if roles is not None and held.isdisjoint(roles):
        wanted = " or ".join(sorted(roles))
        raise PermissionDenied(f"This needs the {wanted} role in project {project.slug}.")
    return project


def project_find(*, slug: str) -> Project | None:
    """The project named ``slug``, or None; no role check (for management commands, which act as the operator)."""
    return Project.objects.filter(slug=slug).first()


def membership_list(*, project: Project) -> QuerySet[Membership]:
    """The project's memberships with their users, by role then username."""
    return Membership.objects.filter(project=project).select_related("user").order_by("role", "user__username")


def membership_get_in_project(*, project: Project, membership_id: int) -> Membership:
    membership = Membership.objects.filter(project=project, pk=membership_id).select_related("user").first()
    if membership is None:
        raise NotFound("No such membership in this project.")
    return membership


def attribute_get_in_project(*, project: Project, attribute_id: int) -> Attribute:
    attribute = Attribute.objects.filter(project=project, pk=attribute_id).first()
    if attribute is None:
        raise NotFound("No such attribute in this project.")
    return attribute


def project_attribute_list(*, project: Project) -> list[Attribute]:
    """The project's attributes in the order they are shown and exported (position, then id)."""
    return list(project.attributes.order_by("position", "id"))


def project_attribute_names(*, project: Project) -> list[str]:
    """The names of :func:`project_attribute_list`, in that order: the ``r1_<a>``/``r2_<a>`` column order."""
    return list(project.attributes.order_by("position", "id").values_list("name", flat=True))


@dataclass(frozen=True)
class ProjectSummary:
    project: Project
    roles: tuple[str, ...]
    comparisons: int
    my_submitted: int


def project_list_for_user(*, user: User) -> list[ProjectSummary]:
    memberships = Membership.objects.filter(user=user).select_related("project").order_by("project__name", "role")
    roles: dict[int, list[str]] = {}
    projects: dict[int, Project] = {}
    for m in memberships:
        roles.setdefault(m.project_id, []).append(m.role)
        projects[m.project_id] = m.project
    counts = (
        Project.objects.filter(id__in=projects)
        .annotate(
            n_comparisons=Count("comparisons", distinct=True),
            n_mine=Count(
                "comparisons__assignments",
                filter=Q(
                    comparisons__assignments__annotator=user,
                    comparisons__assignments__status=AssignmentStatus.SUBMITTED,
                ),
                distinct=True,
            ),
        )
        .values("id", "n_comparisons", "n_mine")
    )
    by_id = {row["id"]: row for row in counts}
    order = {Role.ANNOTATOR: 0, Role.LEAD: 1, Role.RESEARCHER: 2}
    return [
        ProjectSummary(
            project=p,
            roles=tuple(sorted(roles[pid], key=lambda r: order.get(r, 9))),  # type: ignore[call-overload]
            comparisons=by_id[pid]["n_comparisons"],
            my_submitted=by_id[pid]["n_mine"],
        )
        for pid, p in projects.items()
    ]
