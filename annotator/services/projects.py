"""Writes that set a project up: the project itself, its attributes, its members and its gold comparisons.

Each service is one transaction, keyword-only, and raises :class:`ValidationFailed` with ``extra["fields"]``
(field name -> message) for input that breaks a rule, so a page can show every message beside its field.

Who may create a project: any staff user, or any user who is already a data lead of some project
(:func:`project_create_allowed`). The creator becomes the new project's lead. Everything else here is meant to be
called after the caller checked that the user leads the project (``project_get_for_role(roles={"lead"})``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max, QuerySet
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from annotator.domain import (
    GUIDELINE_TASK_TYPES,
    HELPSTEER2_ATTRIBUTE_SPECS,
    PREFERENCE_STRENGTH_TEXT,
    is_preference_strength,
)
from annotator.errors import PermissionDenied, ValidationFailed
from annotator.models import Annotation, Attribute, Comparison, Membership, Project, Role, SourceLabel, TaskUnit
from annotator.text import check_text

PROJECT_SETTING_FIELDS: tuple[str, ...] = (
    "name",
    "guidelines",
    "licence",
    "overlap",
    "adaptive_overlap_threshold",
    "adaptive_overlap_extra",
    "reservation_minutes",
    "min_justification_length",
    "task_guidelines",
    "task_type",
    "feedback_min_sentences",
    "feedback_max_sentences",
    "feedback_min_words",
    "feedback_max_words",
    "feedback_requires_opening",
    "queue_order",
)
ATTRIBUTE_FIELDS: tuple[str, ...] = ("name", "description", "scale_min", "scale_max", "level_descriptions", "position")
RESPONSE_KEYS = ("1", "2")


def _fields_error(fields: Mapping[str, str], message: str | None = None) -> ValidationFailed:
    return ValidationFailed(message or " ".join(fields.values()), extra={"fields": dict(fields)})


def _full_clean(instance: Project | Attribute, *, exclude: Sequence[str] = ()) -> None:
    """Run the model's own validators (field ranges, uniqueness) and raise them as :class:`ValidationFailed`."""
    try:
        instance.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        fields = {name: " ".join(messages) for name, messages in exc.message_dict.items()}
        raise _fields_error(fields) from exc


# --- projects -------------------------------------------------------------------------------------------------


def project_create_allowed(*, user: User | AnonymousUser) -> bool:
    """Staff users, and users who lead at least one project, may create projects."""
    if not user.is_authenticated:
        return False
    if getattr(user, "is_staff", False):
        return True
    return bool(Membership.objects.filter(user=user, role=Role.LEAD).exists())


@transaction.atomic
def project_create(
    *,
    slug: str,
    name: str,
    creator: User,
    attributes: Sequence[Mapping[str, Any]] | None = None,
    **settings: Any,
) -> Project:
    """Create a project with its attributes (HelpSteer2's five by default) and make ``creator`` its lead.

    ``settings`` may set any of :data:`PROJECT_SETTING_FIELDS` besides ``name``.
    """
    if not project_create_allowed(user=creator):
        raise PermissionDenied("Only staff and data leads may create projects.")
    unknown = set(settings) - set(PROJECT_SETTING_FIELDS)
    if unknown:
        raise _fields_error(dict.fromkeys(sorted(unknown), "Not a project setting."))
    project = Project(slug=(slug or "").strip(), name=(name or "").strip(), **settings)
    _full_clean(project)
    project.save()
    specs = HELPSTEER2_ATTRIBUTE_SPECS if attributes is None else attributes
    if not specs:
        raise _fields_error({"attributes": "A project needs at least one attribute."})
    for position, spec in enumerate(specs):
        _attribute_save(Attribute(project=project, position=position), dict(spec))
    Membership.objects.create(project=project, user=creator, role=Role.LEAD)
    return project


@transaction.atomic
def project_update(*, project: Project, **fields: Any) -> Project:
    """Change the project's settings (any of :data:`PROJECT_SETTING_FIELDS`); the slug never changes."""
    unknown = set(fields) - set(PROJECT_SETTING_FIELDS)
    if unknown:
        raise _fields_error(dict.fromkeys(sorted(unknown), "Not a project setting."))
    if "task_guidelines" in fields:
        fields["task_guidelines"] = _clean_task_guidelines(fields["task_guidelines"])
    if "task_type" in fields and fields["task_type"] != project.task_type and _has_work(project):
        raise _fields_error({"task_type": "The task type is fixed once the project has comparisons or tasks."})
    for field, value in fields.items():
        setattr(project, field, value.strip() if field == "name" and isinstance(value, str) else value)
    if project.feedback_min_sentences > project.feedback_max_sentences or (
        project.feedback_min_words > project.feedback_max_words
    ):
        raise _fields_error({"feedback_max_words": "Each feedback maximum is at least its minimum."})
    _full_clean(project)
    project.save(update_fields=list(fields) or None)
    return project


def _clean_task_guidelines(value: Any) -> dict[str, str]:
    """Markdown per known task type (:data:`annotator.domain.GUIDELINE_TASK_TYPES`); empty texts are dropped."""
    known = {name for name, _ in GUIDELINE_TASK_TYPES}
    if not isinstance(value, Mapping) or not set(value) <= known:
        raise _fields_error({"task_guidelines": f"Guidelines per task type: {', '.join(sorted(known))}."})
    clean: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(text, str):
            raise _fields_error({f"guidelines_{name}": "Guidelines are Markdown text."})
        if text.strip():
            clean[name] = check_text(text, field=f"guidelines_{name}", label="guidelines")
    return clean


def _has_work(project: Project) -> bool:
    return Comparison.objects.filter(project=project).exists() or TaskUnit.objects.filter(project=project).exists()


# --- attributes -----------------------------------------------------------------------------------------------


def _ratings_range(*, project: Project, name: str) -> tuple[int | None, int | None]:
    """The lowest and highest value any stored rating of attribute ``name`` holds in ``project``.

    Looks at annotators' ratings, imported source labels and gold ratings, all shaped
    ``{"1": {attribute: int}, "2": {attribute: int}}``.
    """
    # Read in Python: Django's JSON key lookups take the keys "1" and "2" for array indices.
    sources: list[tuple[QuerySet[Any], str]] = [
        (Annotation.objects.filter(comparison__project=project), "ratings"),
        (SourceLabel.objects.filter(comparison__project=project), "ratings"),
        (Comparison.objects.filter(project=project, is_gold=True), "gold_ratings"),
    ]
    low: int | None = None
    high: int | None = None
    for queryset, field in sources:
        for ratings in queryset.values_list(field, flat=True).iterator(chunk_size=5000):
            for key in RESPONSE_KEYS:
                side = ratings.get(key) if isinstance(ratings, dict) else None
                value = side.get(name) if isinstance(side, dict) else None
                if type(value) is int:
                    low = value if low is None else min(low, value)
                    high = value if high is None else max(high, value)
    return low, high


def _clean_levels(levels: Any, *, count: int) -> list[str]:
    if levels is None:
        return []
    if isinstance(levels, str) or not isinstance(levels, Sequence):
        raise _fields_error({"level_descriptions": "Give a list of texts, one per scale level."})
    texts = [str(text).strip() for text in levels]
    while texts and not texts[-1]:  # trailing blanks carry nothing; they need not match the scale
        texts.pop()
    if len(texts) > count:
        raise _fields_error(
            {"level_descriptions": f"{len(texts)} level descriptions for a scale of {count} levels; remove some."}
        )
    return texts


def _attribute_save(attribute: Attribute, fields: dict[str, Any]) -> Attribute:
    unknown = set(fields) - set(ATTRIBUTE_FIELDS)
    if unknown:
        raise _fields_error(dict.fromkeys(sorted(unknown), "Not an attribute field."))
    for field, value in fields.items():
        if field in ("name", "description") and isinstance(value, str):
            value = value.strip()
        setattr(attribute, field, value)
    errors: dict[str, str] = {}
    try:
        scale_min, scale_max = int(attribute.scale_min), int(attribute.scale_max)
    except (TypeError, ValueError):
        raise _fields_error({"scale_max": "The scale's ends must be whole numbers."}) from None
    if scale_max <= scale_min:
        errors["scale_max"] = "The highest level must be above the lowest."
    elif scale_max - scale_min > 20:
        errors["scale_max"] = "A scale has at most 21 levels."
    if errors:
        raise _fields_error(errors)
    attribute.level_descriptions = _clean_levels(attribute.level_descriptions, count=scale_max - scale_min + 1)
    if attribute.pk is None and Attribute.objects.filter(project=attribute.project, name=attribute.name).exists():
        raise _fields_error({"name": f"The project already has an attribute named {attribute.name!r}."})
    _full_clean(attribute, exclude=["project"])
    attribute.save()
    return attribute


@transaction.atomic
def attribute_create(
    *,
    project: Project,
    name: str,
    description: str = "",
    scale_min: int = 0,
    scale_max: int = 4,
    level_descriptions: Sequence[str] | None = None,
    position: int | None = None,
) -> Attribute:
    """Add a Likert attribute to ``project``, last unless ``position`` is given."""
    if position is None:
        last = project.attributes.aggregate(last=Max("position"))["last"]
        position = 0 if last is None else last + 1
    return _attribute_save(
        Attribute(project=project),
        {
            "name": name,
            "description": description,
            "scale_min": scale_min,
            "scale_max": scale_max,
            "level_descriptions": list(level_descriptions or []),
            "position": position,
        },
    )


@transaction.atomic
def attribute_update(*, attribute: Attribute, **fields: Any) -> Attribute:
    """Change an attribute (any of :data:`ATTRIBUTE_FIELDS`).

    Once ratings of the attribute exist, its name is fixed (ratings are keyed by it) and its scale may only change
    so that every stored rating still lies on it.
    """
    attribute = Attribute.objects.select_for_update().get(pk=attribute.pk)
    project = attribute.project
    rated = Annotation.objects.filter(comparison__project=project).exists()
    new_name = fields.get("name", attribute.name)
    if isinstance(new_name, str):
        new_name = new_name.strip()
    if new_name != attribute.name:
        if rated:
            raise _fields_error({"name": "Annotations exist: renaming the attribute would orphan their ratings."})
        if Attribute.objects.filter(project=project, name=new_name).exclude(pk=attribute.pk).exists():
            raise _fields_error({"name": f"The project already has an attribute named {new_name!r}."})
    if "scale_min" in fields or "scale_max" in fields:
        low, high = _ratings_range(project=project, name=attribute.name)
        new_min = int(fields.get("scale_min", attribute.scale_min))
        new_max = int(fields.get("scale_max", attribute.scale_max))
        if low is not None and high is not None and (low < new_min or high > new_max):
            raise _fields_error(
                {
                    "scale_max" if high > new_max else "scale_min": (
                        f"Stored ratings of {attribute.name} run from {low} to {high}; "
                        f"a scale from {new_min} to {new_max} would invalidate them."
                    )
                }
            )
    return _attribute_save(attribute, dict(fields))


@transaction.atomic
def attribute_delete(*, attribute: Attribute) -> None:
    """Delete an attribute; refused once the project holds annotations, and for its last attribute."""
    project = attribute.project
    if Annotation.objects.filter(comparison__project=project).exists():
        raise ValidationFailed(
            "Annotations exist in this project: deleting an attribute would orphan their ratings.",
            extra={"fields": {"attribute": "Annotations exist."}},
        )
    if project.attributes.count() <= 1:
        raise _fields_error({"attribute": "A project needs at least one attribute."})
    attribute.delete()


# --- members --------------------------------------------------------------------------------------------------


@transaction.atomic
def membership_add(*, project: Project, username: str, role: str) -> Membership:
    """Give the user named ``username`` the ``role`` in ``project`` (a user may hold several roles)."""
    errors: dict[str, str] = {}
    username = (username or "").strip()
    user = User.objects.filter(username=username).first() if username else None
    if user is None:
        errors["username"] = f"No user named {username!r}." if username else "Give a username."
    if role not in Role.values:
        errors["role"] = f"Choose one of {', '.join(Role.values)}."
    if errors or user is None:
        raise _fields_error(errors)
    if Membership.objects.filter(project=project, user=user, role=role).exists():
        raise _fields_error({"username": f"{username} already holds the {role} role here."})
    membership: Membership = Membership.objects.create(project=project, user=user, role=role)
    return membership


def user_set_password_link(*, user: User, site_url: str) -> str:
    """The one-time link at which ``user`` chooses a password (Django's password-reset token: it stops working once
    the password is set, and after ``PASSWORD_RESET_TIMEOUT``). ``site_url`` is the site's root, e.g. https://x/."""
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return site_url.rstrip("/") + path


def _new_member_errors(*, username: str, email: str) -> dict[str, str]:
    """What keeps ``username`` and ``email`` from naming a new account (both stripped already)."""
    errors: dict[str, str] = {}
    try:
        User.username_validator(username)
    except ValidationError:
        errors["username"] = "Letters, digits and @/./+/-/_ only." if username else "Give a username."
    else:
        if User.objects.filter(username__iexact=username).exists():
            errors["username"] = f"A user named {username!r} exists; add them by username instead."
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Give a valid e-mail address."
    else:
        if User.objects.filter(email__iexact=email).exists():
            errors["email"] = "A user with this e-mail address exists; add them by username instead."
    return errors


def _role_errors(role: str) -> dict[str, str]:
    return {} if role in Role.values else {"role": f"Choose one of {', '.join(Role.values)}."}


def _mail_on_commit(*, subject: str, body: str, to: str) -> None:
    """Send once the caller's transaction commits (never for a write that was rolled back)."""
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to]))


def _new_member_create(
    *, project: Project, username: str, email: str, role: str, invited_by: User, site_url: str
) -> Membership:
    """The account without a usable password, its membership, and the mail with its set-password link (checked
    input; the caller holds the transaction)."""
    user = User(username=username, email=email)
    user.set_unusable_password()
    user.save()
    membership: Membership = Membership.objects.create(project=project, user=user, role=role)
    link = user_set_password_link(user=user, site_url=site_url)
    body = (
        f"{invited_by.get_username()} added you to the Prefstack project {project.name!r} as {role}.\n\n"
        f"Your username is {username}. Choose your password here (the link works once):\n{link}\n"
    )
    _mail_on_commit(subject=f"Prefstack: you were added to {project.name}", body=body, to=email)
    return membership


@transaction.atomic
def membership_create_user(
    *, project: Project, username: str, email: str, role: str, invited_by: User, site_url: str
) -> Membership:
    """Create an account for a new member with ``role`` in ``project`` and e-mail them a set-password link.

    The account has no usable password until the link is used; the mail leaves only once the account is committed
    (through Django's mail backend: the console in the demo, locmem in tests).
    """
    username, email = (username or "").strip(), (email or "").strip()
    errors = _new_member_errors(username=username, email=email) | _role_errors(role)
    if errors:
        raise _fields_error(errors)
    return _new_member_create(
        project=project, username=username, email=email, role=role, invited_by=invited_by, site_url=site_url
    )


def _username_from_email(email: str) -> str:
    """A free username made from the address's local part (``ann.lee@x.org`` -> ``ann.lee``, then ``ann.lee2`` …)."""
    base = re.sub(r"[^\w.@+-]", "", email.split("@", 1)[0])[:140] or "member"
    candidate, suffix = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        suffix += 1
        candidate = f"{base}{suffix}"
    return candidate


@transaction.atomic
def membership_invite(
    *, project: Project, email: str, role: str, invited_by: User, site_url: str, username: str = ""
) -> Membership:
    """Make the person at ``email`` a member with ``role`` in ``project`` and tell them by e-mail.

    An existing account with that address (case-insensitive) gets the role and a notice with the project's link
    (plus a fresh set-password link if it never chose a password). An unknown address gets a new account, named
    ``username`` or after the address, as :func:`membership_create_user` makes it: no usable password, a one-time
    set-password link by mail. The mail leaves only once the membership is committed.
    """
    email, username = (email or "").strip(), (username or "").strip()
    errors = _role_errors(role)
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Give a valid e-mail address."
        raise _fields_error(errors) from None
    users = list(User.objects.filter(email__iexact=email).order_by("pk")[:2])
    if not users:
        username = username or _username_from_email(email)
        errors |= _new_member_errors(username=username, email=email)
        if errors:
            raise _fields_error(errors)
        return _new_member_create(
            project=project, username=username, email=email, role=role, invited_by=invited_by, site_url=site_url
        )
    if len(users) > 1:
        errors["email"] = "Several accounts use this e-mail address; add the member by username instead."
    user = users[0]
    if username and username != user.get_username():
        errors["username"] = f"This e-mail address belongs to {user.get_username()}; leave the username empty."
    if not errors and Membership.objects.filter(project=project, user=user, role=role).exists():
        errors["email"] = f"{user.get_username()} ({email}) already holds the {role} role here."
    if errors:
        raise _fields_error(errors)
    membership: Membership = Membership.objects.create(project=project, user=user, role=role)
    project_url = site_url.rstrip("/") + reverse("annotator:project", kwargs={"slug": project.slug})
    body = (
        f"{invited_by.get_username()} added you to the Prefstack project {project.name!r} as {role}.\n\n"
        f"Sign in as {user.get_username()} and open it here:\n{project_url}\n"
    )
    if not user.has_usable_password():
        link = user_set_password_link(user=user, site_url=site_url)
        body += f"\nYou have not chosen a password yet. Choose it here (the link works once):\n{link}\n"
    _mail_on_commit(subject=f"Prefstack: you were added to {project.name}", body=body, to=user.email)
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    """Remove one role of one member; the project's last lead cannot be removed."""
    if membership.role == Role.LEAD:
        # Lock every lead row so that two leads removing each other at once cannot both succeed.
        leads = list(
            Membership.objects.select_for_update()
            .filter(project_id=membership.project_id, role=Role.LEAD)
            .values_list("pk", flat=True)
        )
        if leads == [membership.pk] or not leads:
            raise _fields_error({"membership": "A project needs at least one lead; add another lead first."})
    Membership.objects.filter(pk=membership.pk).delete()


# --- gold comparisons -----------------------------------------------------------------------------------------


def _clean_gold(*, project: Project, gold_ratings: Mapping[str, Any], tolerance: Any) -> tuple[dict[str, Any], int]:
    errors: dict[str, str] = {}
    attributes = {a.name: a for a in project.attributes.all()}
    clean: dict[str, Any] = {}
    unknown = set(gold_ratings) - {*RESPONSE_KEYS, "strength"}
    if unknown:
        errors["gold_ratings"] = f"Unknown keys {sorted(unknown)}; use '1', '2' and 'strength'."
    widest = 0
    for key in RESPONSE_KEYS:
        given = gold_ratings.get(key) or {}
        if not isinstance(given, Mapping):
            errors[f"r{key}"] = f"Ratings of response {key} must map attribute names to values."
            continue
        clean[key] = {}
        for name, value in given.items():
            attribute = attributes.get(name)
            field = f"r{key}_{name}"
            if attribute is None:
                errors[field] = f"{name!r} is not an attribute of this project."
            elif type(value) is not int or not attribute.scale_min <= value <= attribute.scale_max:
                errors[field] = f"Expected a whole number from {attribute.scale_min} to {attribute.scale_max}."
            else:
                clean[key][name] = value
                widest = max(widest, attribute.scale_max - attribute.scale_min)
    strength = gold_ratings.get("strength")
    if strength is not None:
        if not is_preference_strength(strength):
            errors["strength"] = f"Expected {PREFERENCE_STRENGTH_TEXT}."
        else:
            clean["strength"] = strength
    if not errors and not any(clean.get(k) for k in RESPONSE_KEYS) and "strength" not in clean:
        errors["gold_ratings"] = "Give at least one expected rating or the preference strength."
    if type(tolerance) is not int or tolerance < 0:
        errors["tolerance"] = "The tolerance is a whole number, 0 or more."
    elif widest and tolerance >= widest:
        errors["tolerance"] = f"A tolerance of {tolerance} accepts every rating on a {widest + 1}-level scale."
    if errors:
        raise _fields_error(errors)
    return clean, tolerance


@transaction.atomic
def comparison_mark_gold(*, comparison: Comparison, gold_ratings: Mapping[str, Any], tolerance: int = 1) -> Comparison:
    """Make ``comparison`` a gold comparison with expected ratings, accepted within ``± tolerance``.

    ``gold_ratings`` is ``{"1": {attribute: int}, "2": {attribute: int}, "strength": int}``, each part optional
    but not all. Gold comparisons are claimed like any other, so annotators cannot tell them apart.
    """
    clean, tolerance = _clean_gold(project=comparison.project, gold_ratings=gold_ratings, tolerance=tolerance)
    comparison.is_gold = True
    comparison.gold_ratings = clean
    comparison.gold_tolerance = tolerance
    comparison.save(update_fields=["is_gold", "gold_ratings", "gold_tolerance"])
    return comparison


@transaction.atomic
def comparison_unmark_gold(*, comparison: Comparison) -> Comparison:
    """Make ``comparison`` an ordinary comparison again; its expected ratings are dropped."""
    comparison.is_gold = False
    comparison.gold_ratings = {}
    comparison.gold_tolerance = 1
    comparison.save(update_fields=["is_gold", "gold_ratings", "gold_tolerance"])
    return comparison
