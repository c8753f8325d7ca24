"""The one Markdown renderer: prompts, responses, guidelines and dataset cards all go through ``render_markdown``.

markdown-it-py (CommonMark + tables + strikethrough) renders, Pygments highlights fenced code, and nh3 sanitises the
result, so untrusted model output can never inject script, styles or event handlers.

Large texts stay cheap: Pygments multiplies code's HTML by ten to twenty-five, so a text over ``highlight_max_chars``
is rendered with its code as plain preformatted text; :func:`collapsible` wraps a long text's HTML so that the page
shows its start and a "show all" control (no script needed). The last renderings are kept, so reloading a page with
the same comparison does not render it again.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a", "span", "div", "sup", "sub",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
}
_FORMATTER = HtmlFormatter(nowrap=True)  # markdown-it wraps it in <pre><code>


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang.strip()) if lang.strip() else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes and wraps it itself
    return str(highlight(code, lexer, _FORMATTER))


@lru_cache(maxsize=2)
def _parser(highlight: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight if highlight else None})
    return md.enable(["table", "strikethrough"])


def render_markdown(text: str, *, highlight_max_chars: int | None = None) -> str:
    """Render untrusted Markdown to sanitised HTML; fenced code is highlighted only in a text of at most
    ``highlight_max_chars`` characters (None: always)."""
    text = text or ""
    return _render(text, highlight_max_chars is None or len(text) <= highlight_max_chars)


@lru_cache(maxsize=64)
def _render(text: str, highlight: bool) -> str:
    html = _parser(highlight).render(text)
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer nofollow",
    )


_COLLAPSIBLE_IDS = itertools.count(1)


def collapsible(html: str, *, characters: int) -> str:
    """Wrap rendered ``html`` (of a text of ``characters`` characters) to show collapsed, with a "show all" toggle.

    A checkbox and its label do the toggling in CSS (``.collapsible`` in ``app.css``), so it works without script
    and from the keyboard.
    """
    toggle = f"show-all-{next(_COLLAPSIBLE_IDS)}"
    return (
        f'<div class="collapsible"><input type="checkbox" class="show-all-toggle" id="{toggle}">'
        f'<div class="collapsible-body">{html}</div>'
        f'<label class="show-all" for="{toggle}"><span class="when-collapsed">Show all ({characters:,} characters)'
        '</span><span class="when-expanded">Show less</span></label></div>'
    )
