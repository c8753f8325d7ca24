from django import template
from django.utils.safestring import SafeString, mark_safe

from annotator.rendering import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """``{{ value|markdown }}``: the project's one sanitising Markdown renderer."""
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3


@register.filter(name="get_item")
def get_item(mapping: dict, key: object) -> object:  # type: ignore[type-arg]
    return mapping.get(key) if isinstance(mapping, dict) else None
