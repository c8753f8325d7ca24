from django import template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from annotator.rendering import collapsible, render_markdown
from annotator.stats.aggregation import describe_parameter

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """``{{ value|markdown }}``: the project's one sanitising Markdown renderer."""
    return mark_safe(render_markdown(text, highlight_max_chars=settings.PREFSTACK_HIGHLIGHT_MAX_CHARS))  # noqa: S308 - sanitised by nh3


@register.filter(name="long_markdown")
def long_markdown_filter(text: str) -> SafeString:
    """``{{ value|long_markdown }}``: as ``markdown``, collapsed behind "show all" when longer than
    ``PREFSTACK_COLLAPSE_CHARS`` (prompts and responses, which may be up to the import limits long)."""
    html = render_markdown(text, highlight_max_chars=settings.PREFSTACK_HIGHLIGHT_MAX_CHARS)
    if len(text or "") > settings.PREFSTACK_COLLAPSE_CHARS:
        html = collapsible(html, characters=len(text))
    return mark_safe(html)  # noqa: S308 - sanitised by nh3; the wrapper is ours


@register.filter(name="get_item")
def get_item(mapping: dict, key: object) -> object:  # type: ignore[type-arg]
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter(name="rule_parameters")
def rule_parameters(params: dict) -> list[tuple[str, object, str]]:  # type: ignore[type-arg]
    """``{% for name, value, meaning in rule.params|rule_parameters %}``: each parameter with what its value does."""
    return [(name, value, describe_parameter(name, value)) for name, value in (params or {}).items()]


@register.filter(name="percent")
def percent(share: float | None) -> str:
    """``{{ 0.8|percent }}`` → "80 %"; "n/a" for None."""
    return "n/a" if share is None else f"{round(float(share) * 100)} %"
