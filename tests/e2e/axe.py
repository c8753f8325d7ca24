"""Run the vendored axe-core (tests/e2e/vendor/axe.min.js, MPL-2.0) in a page and keep the serious and critical
violations.

The file is evaluated through the DevTools protocol (``page.evaluate``), which the page's Content-Security-Policy
does not govern, so the page keeps its real policy while axe runs; ``axe_violations`` checks that axe really
loaded before trusting an empty answer. Some of axe's checks set styles on the page for a moment (to see what is
visible), which ``style-src 'self'`` refuses and reports: those reports, made while axe runs, are axe's and not the
page's, so ``axe_violations`` takes them out of the test's CSP list (every other report stays and fails the test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
BLOCKING_IMPACTS = ("serious", "critical")

RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return {version: axe.version, violations: results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}))};
}"""


def axe_violations(
    page: Page, csp_violations: list[str], *, impacts: tuple[str, ...] = BLOCKING_IMPACTS
) -> list[dict[str, Any]]:
    """The page's axe violations whose impact is in ``impacts``, each with the nodes that break the rule.

    ``csp_violations``: the test's list (tests/e2e/conftest.py); the style-src reports axe's own probing causes
    while it runs are removed from it."""
    before = len(csp_violations)
    page.evaluate(AXE_SOURCE)
    result = page.evaluate(RUN_AXE)
    page.wait_for_timeout(250)  # console reports arrive after the script that caused them
    csp_violations[before:] = [v for v in csp_violations[before:] if "style-src" not in v]
    assert result["version"], "axe-core did not load in the page"
    return [v for v in result["violations"] if v["impact"] in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    """One paragraph per violation, readable in a failed assertion."""
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        lines.extend(f"    {node['target']}: {node['summary']}" for node in violation["nodes"])
    return "\n".join(lines)
