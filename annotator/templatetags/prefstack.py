from django import template
from django.utils.safestring import SafeString, mark_safe

from annotator.rendering import render_markdown
from annotator.stats.aggregation import describe_parameter

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """``{{ value|markdown }}``: the project's one sanitising Markdown renderer."""
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3


@register.filter(name="get_item")
def get_item(mapping: dict, key: object) -> object:  # type: ignore[type-arg]
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter(name="rule_parameters")
def rule_parameters(params: dict) -> list[tuple[str, object, str]]:  # type: ignore[type-arg]
    """``{% for name, value, meaning in rule.params|rule_parameters %}``: each parameter with what its value does."""
    return [(name, value, describe_parameter(name, value)) for name, value in (params or {}).items()]
