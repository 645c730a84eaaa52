"""Accessibility checks in Chromium with axe-core (vendored for tests in tests/vendor/axe-core).

axe is evaluated through Playwright (DevTools protocol), so a page's Content-Security-Policy,
which forbids inline scripts, does not block it and need not be relaxed for the test.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Frame, Page

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@cache
def _axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(
    target: Page | Frame, *, include: list[str] | None = None, impacts: tuple[str, ...] = BLOCKING
) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.x A and AA (and best practices) in ``target``'s
    document, or only in the elements matching the CSS selectors ``include``; only those of
    the given ``impacts``. Each item: ``id``, ``impact``, ``help`` and the ``targets`` (CSS
    selectors of the offending nodes), short enough to read in an assertion message."""
    if not target.evaluate("() => typeof window.axe === 'object'"):
        target.evaluate(_axe_source())
    context = {"include": [[s] for s in include]} if include else None
    result = target.evaluate(
        """async (context) => {
            const options = { resultTypes: ["violations"] };
            const found = await window.axe.run(context || document, options);
            return found.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(" "))
            }));
        }""",
        context,
    )
    return [v for v in result if v["impact"] in impacts]
