"""The project's apps depend one way: no import cycle between them.

Every module of every app is read as source (its AST), and every import counts: at module
level, inside a function, under ``if TYPE_CHECKING:``, relative or absolute, and a call of
``importlib.import_module`` or ``django.utils.module_loading.import_string`` with a literal
name. An app imports another when any of its modules does. A cycle between apps fails the
test with each import that makes it (module and line).

Model references by label (``ForeignKey("chat.Conversation")``) are not imports: Django
resolves them once every app is loaded, which is what they are for.

The apps and the order they depend in, highest first: ``supportdesk`` (the project: settings,
URLs, entry points, health report, demo) -> ``api`` (the REST API) -> ``chat`` ->
``analytics`` -> ``knowledge`` -> ``accounts``. Where a lower app needs something of a higher
one, the higher one registers it (``knowledge.bot``) or listens for a signal
(``knowledge.signals.taxonomy_changed``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "analytics", "api", "chat", "knowledge", "supportdesk", "webhooks")
LOADERS = {"import_module", "import_string"}


@dataclass(frozen=True)
class Edge:
    source: str  # importing app
    target: str  # imported app
    where: str  # "chat/services.py:29"
    name: str  # the imported module or name


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in ``tree``, wherever it sits."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found.extend((node.lineno, f"{name}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in LOADERS and node.args and isinstance(node.args[0], ast.Constant):
                if isinstance(node.args[0].value, str):
                    found.append((node.lineno, node.args[0].value))
    return found


def app_edges(sources: dict[str, str], apps: tuple[str, ...]) -> list[Edge]:
    """Imports between different apps in ``sources`` (a relative path -> its source text)."""
    edges = []
    for relative, text in sorted(sources.items()):
        path = Path(relative)
        module = module_name(path, Path("."))
        tree = ast.parse(text, filename=relative)
        for line, name in imported_names(tree, module, path.name == "__init__.py"):
            source, target = module.split(".")[0], name.split(".")[0]
            if target in apps and target != source:
                edges.append(Edge(source, target, f"{relative}:{line}", name))
    return edges


def find_cycle(edges: list[Edge]) -> list[Edge]:
    """One cycle of the app graph as the edges that close it, or [] when there is none."""
    graph: dict[str, dict[str, Edge]] = defaultdict(dict)
    for edge in edges:
        graph[edge.source].setdefault(edge.target, edge)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[Edge] = []

    def visit(app: str) -> list[Edge]:
        state[app] = 1
        for target, edge in sorted(graph[app].items()):
            if state.get(target) == 1:
                start = next((i for i, e in enumerate(path) if e.source == target), len(path))
                return [*path[start:], edge]
            if target not in state:
                path.append(edge)
                cycle = visit(target)
                if cycle:
                    return cycle
                path.pop()
        state[app] = 2
        return []

    for app in sorted(graph):
        if app not in state:
            cycle = visit(app)
            if cycle:
                return cycle
    return []


def describe(cycle: list[Edge], edges: list[Edge]) -> str:
    apps = " -> ".join([cycle[0].source, *(e.target for e in cycle)])
    lines = [f"import cycle between apps: {apps}"]
    for step in cycle:
        lines.append(f"  {step.source} -> {step.target}:")
        lines.extend(
            f"    {e.where} imports {e.name}"
            for e in edges if (e.source, e.target) == (step.source, step.target)
        )
    return "\n".join(lines)


def project_sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
    }


def test_no_import_cycle_between_the_apps():
    sources = project_sources()
    assert len(sources) > 50  # the apps were found where this test looks for them
    edges = app_edges(sources, APPS)
    cycle = find_cycle(edges)
    assert not cycle, describe(cycle, edges)


def test_the_bot_reads_the_taxonomy_and_chat_reads_analytics_through_their_doors():
    """The two dependencies the structure was built around: the bot never queries knowledge's
    models (it reads the taxonomy through ``knowledge.selectors``), and chat never queries
    analytics' models (it reads through ``analytics.selectors`` and records facts through
    ``analytics.events``)."""
    edges = app_edges(project_sources(), APPS)
    bot = [e for e in edges if e.where.startswith("chat/bot/") and e.target == "knowledge"]
    assert any(e.name.startswith("knowledge.selectors") for e in bot)
    assert not [e for e in bot if e.name.startswith("knowledge.models")]
    chat = [e for e in edges if e.source == "chat" and e.target == "analytics"]
    assert any(e.name.startswith("analytics.selectors") for e in chat)
    assert not [e for e in chat if e.name.startswith("analytics.models")]


# --- The checker itself, on sources made up here ----------------------------------------------

MADE_UP = ("alpha", "beta", "gamma")


def test_a_function_level_import_closing_a_cycle_is_found_and_printed():
    sources = {
        "alpha/models.py": "from beta.services import go\n",
        "beta/services.py": "def go():\n    from gamma import helpers\n",
        "gamma/helpers.py": "import os\n\ndef late():\n    from alpha import models\n",
    }
    edges = app_edges(sources, MADE_UP)
    cycle = find_cycle(edges)
    assert [(e.source, e.target) for e in cycle] == [
        ("alpha", "beta"), ("beta", "gamma"), ("gamma", "alpha")
    ]
    text = describe(cycle, edges)
    assert "alpha -> beta -> gamma -> alpha" in text
    assert "gamma/helpers.py:4 imports alpha.models" in text


def test_relative_type_checking_and_string_imports_count():
    sources = {
        "alpha/sub/__init__.py": "from . import parts\n",
        "alpha/sub/parts.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from beta.models import B\n"
        ),
        "beta/models.py": (
            "from django.utils.module_loading import import_string\n"
            "def find():\n    return import_string('alpha.sub.parts.X')\n"
        ),
    }
    edges = app_edges(sources, MADE_UP)
    assert {(e.source, e.target, e.where) for e in edges} == {
        ("alpha", "beta", "alpha/sub/parts.py:3"),
        ("beta", "alpha", "beta/models.py:3"),
    }
    assert find_cycle(edges)


def test_one_way_imports_are_no_cycle():
    sources = {
        "alpha/a.py": "import beta.b\nfrom gamma import c\n",
        "beta/b.py": "from gamma.c import thing\nfrom .local import x\n",
        "gamma/c.py": "import json\n",
    }
    edges = app_edges(sources, MADE_UP)
    assert {(e.source, e.target) for e in edges} == {
        ("alpha", "beta"), ("alpha", "gamma"), ("beta", "gamma")
    }
    assert find_cycle(edges) == []
