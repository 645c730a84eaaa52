"""The product code uses the public APIs of its libraries only.

Walks the syntax trees of the product packages and fails on any import of a private name
(leading underscore) of Django, Channels, channels_redis, Celery, kombu, asgiref, DRF or the
standard library, any attribute access of a private name that the project does not define
itself, any override of a library class's private method, and channels_redis's internal
``__group__`` channel names. Allowed: ``_meta`` (Django's documented Options API) and dunder
names.
"""

from __future__ import annotations

import ast
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("chat", "knowledge", "analytics", "api", "supportdesk", "webhooks", "accounts")
LIBRARIES = frozenset(
    {"django", "channels", "channels_redis", "celery", "kombu", "asgiref"}
    | {"rest_framework", "django_filters", "drf_spectacular"}
    | set(sys.stdlib_module_names)
)
ALLOWED = frozenset({"_meta"})
INTERNAL_STRINGS = ("__group__",)


@dataclass(frozen=True)
class Violation:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__")) and (
        name not in ALLOWED
    )


def _library(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in LIBRARIES


def product_sources() -> dict[str, str]:
    """path -> source of every Python file of the product packages."""
    return {
        str(path.relative_to(ROOT)): path.read_text()
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def own_private_names(trees: dict[str, ast.AST]) -> set[str]:
    """Private names the project defines itself: functions, classes, assignments, arguments."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias) and node.asname:
                names.add(node.asname)
    return {name for name in names if _private(name)}


def _imported(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted origin for the names a module imports from the libraries."""
    origins: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _library(alias.name):
                    origins[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0]
                    )
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _library(node.module):
            for alias in node.names:
                origins[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return origins


def _resolve(dotted: str) -> object | None:
    """The object at ``module.attr`` (for a base class), or None when it cannot be loaded."""
    module, _, attr = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError):
        return None


def violations(sources: dict[str, str]) -> list[Violation]:
    trees = {path: ast.parse(source, filename=path) for path, source in sources.items()}
    own = own_private_names(trees)
    found: list[Violation] = []
    for path, tree in trees.items():
        origins = _imported(tree)
        for node in ast.walk(tree):
            where = f"{path}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _library(alias.name) and any(
                        _private(part) for part in alias.name.split(".")
                    ):
                        found.append(Violation(where, f"import {alias.name}"))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and _library(node.module):
                parts = node.module.split(".") + [alias.name for alias in node.names]
                if any(_private(part) for part in parts):
                    found.append(Violation(where, f"from {node.module} import a private name"))
            elif isinstance(node, ast.Attribute) and _private(node.attr):
                base = node.value
                of_library = isinstance(base, ast.Name) and base.id in origins
                if of_library or node.attr not in own:
                    found.append(Violation(where, f"attribute {node.attr}"))
            elif isinstance(node, ast.ClassDef):
                bases = [
                    _resolve(origins[b.id]) for b in node.bases
                    if isinstance(b, ast.Name) and b.id in origins
                ] + [
                    _resolve(f"{origins[b.value.id]}.{b.attr}") for b in node.bases
                    if isinstance(b, ast.Attribute) and isinstance(b.value, ast.Name)
                    and b.value.id in origins
                ]
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and _private(
                        item.name
                    ) and any(base is not None and hasattr(base, item.name) for base in bases):
                        found.append(Violation(
                            f"{path}:{item.lineno}", f"overrides the library's {item.name}"
                        ))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                for marker in INTERNAL_STRINGS:
                    if marker in node.value:
                        found.append(Violation(where, f"internal naming scheme {marker!r}"))
    return found


def test_the_product_uses_no_private_name_of_its_libraries():
    found = violations(product_sources())
    assert not found, "private names of libraries in the product code:\n" + "\n".join(
        map(str, found)
    )


def test_each_kind_of_private_use_is_caught():
    """The checker itself, on code written for it: each kind is reported, own names are not."""
    sources = {
        "state.py": "def f(message):\n    message._state.adding = False\n",
        "imports.py": "from django.db.models.base import _has_contribute_to_class\n",
        "module.py": "import json.scanner\nimport json\nscanner = json._default_decoder\n",
        "override.py": (
            "from kombu.transport import redis\n"
            "class Channel(redis.Channel):\n"
            "    def _create_client(self):\n"
            "        return None\n"
        ),
        "groups.py": "def name(prefix, group):\n    return f'{prefix}__group__{group}'\n",
        "own.py": (
            "class Cache:\n"
            "    def __init__(self):\n"
            "        self._items = {}\n"
            "    def _load(self):\n"
            "        return self._items, Cache._meta\n"
        ),
    }
    found = violations(sources)
    reported = {v.where.split(":")[0] for v in found}
    assert reported == {"state.py", "imports.py", "module.py", "override.py", "groups.py"}
    assert [v.what for v in found if v.where.startswith("override.py")] == [
        "overrides the library's _create_client"
    ]
