"""factory_boy factories for the domain. Tests build what they need with these, nothing by hand."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model

from annotator import models
from annotator.domain import HELPSTEER2_ATTRIBUTE_SPECS

User = get_user_model()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Project

    slug = factory.Sequence(lambda n: f"project-{n}")
    name = factory.Sequence(lambda n: f"Project {n}")
    guidelines = "Rate each response, then say which is better and why."
    min_justification_length = 10

    @factory.post_generation
    def attributes(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if not create:
            return
        specs = extracted if extracted is not None else HELPSTEER2_ATTRIBUTE_SPECS
        for position, spec in enumerate(specs):
            models.Attribute.objects.create(project=self, position=position, **spec)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = models.Role.ANNOTATOR


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Prompt

    project = factory.SubFactory(ProjectFactory)
    turns = factory.Sequence(lambda n: [{"role": "user", "content": f"Question number {n}?"}])


class ResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Response

    prompt = factory.SubFactory(PromptFactory)
    text = factory.Sequence(lambda n: f"An answer, number {n}.")


class ComparisonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Comparison

    project = factory.SubFactory(ProjectFactory)
    prompt = factory.SubFactory(PromptFactory, project=factory.SelfAttribute("..project"))
    response_1 = factory.SubFactory(ResponseFactory, prompt=factory.SelfAttribute("..prompt"))
    response_2 = factory.SubFactory(ResponseFactory, prompt=factory.SelfAttribute("..prompt"))
    split = models.Split.TRAIN


class ModelEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ModelEndpoint

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"endpoint-{n}")
    base_url = "http://127.0.0.1:9/v1"
    model_id = factory.Sequence(lambda n: f"model-{n}")


def member(project: models.Project, role: str = models.Role.ANNOTATOR, **user_kwargs: Any) -> Any:
    """A user holding ``role`` in ``project``."""
    user = UserFactory(**user_kwargs)
    models.Membership.objects.create(project=project, user=user, role=role)
    return user


def full_ratings(project: models.Project, value: int = 3) -> dict[str, dict[str, int]]:
    names = list(project.attributes.values_list("name", flat=True))
    return {"1": dict.fromkeys(names, value), "2": dict.fromkeys(names, value)}
