"""Template source checks that no page test would catch until someone reads the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.template import engines

ROOT = Path(__file__).resolve().parents[2]


def _template_files() -> list[Path]:
    dirs = [Path(d) for d in engines["django"].dirs]
    dirs += [p for p in ROOT.glob("*/templates") if p.is_dir()]
    files = {f for d in dirs for f in d.rglob("*") if f.suffix in {".html", ".txt", ".md"}}
    return sorted(files)


def test_there_are_templates_to_check():
    assert len(_template_files()) > 20


@pytest.mark.parametrize("path", _template_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_one_line_comment_ends_on_its_line(path: Path):
    """``{# ... #}`` is a one-line comment in Django: one that runs on to the next line is not
    a comment at all, and the reader sees its text on the page (``{% comment %}`` spans lines).
    """
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        rest = line
        while "{#" in rest:
            rest = rest[rest.index("{#") + 2:]
            assert "#}" in rest, f"{path.relative_to(ROOT)}:{number}: '{{#' without '#}}'"
            rest = rest[rest.index("#}") + 2:]
