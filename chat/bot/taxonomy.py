"""The taxonomy snapshot: intents, signals, published articles with their index, classifier.

Building a snapshot reads the database and unpickles the active classifier, so it is cached
per process. Staleness across processes is bounded: at most once a second a process compares
a revision number in Django's cache (bumped by ``taxonomy_invalidate``) and a cheap
fingerprint of the knowledge tables (row counts, latest edits, the active classifier) with
the ones its snapshot was built from, and rebuilds when either changed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache

from knowledge.connectors import ConnectorSpec
from knowledge.selectors import taxonomy_fingerprint, taxonomy_rows

from .classifier import IntentClassifier
from .entities import ProductMatcher, product_names_from_titles
from .retrieval import ArticleDoc, ArticleIndex
from .signals import SignalMatcher

log = logging.getLogger(__name__)

REVISION_KEY = "bot:taxonomy:revision"
CHECK_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class IntentInfo:
    slug: str
    name: str
    description: str = ""
    escalation_policy: str = "never"
    required_details: tuple[dict[str, str], ...] = ()


@dataclass
class Taxonomy:
    intents: dict[str, IntentInfo]
    signals: SignalMatcher
    articles: ArticleIndex
    products: ProductMatcher
    classifier: IntentClassifier | None = None
    classifier_version: int | None = None
    fallback_intent: str = "general_inquiry"
    revision: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    connectors: tuple[ConnectorSpec, ...] = ()

    def intent(self, slug: str) -> IntentInfo:
        return self.intents.get(slug) or IntentInfo(slug=slug, name=slug.replace("_", " ").title())

    def required_details(self) -> dict[str, list[dict[str, str]]]:
        return {slug: list(info.required_details) for slug, info in self.intents.items()}


def taxonomy_from_data(
    *,
    intents: list[IntentInfo],
    signals: list[tuple[str, str]] = (),
    articles: list[ArticleDoc] = (),
    classifier: IntentClassifier | None = None,
    classifier_version: int | None = None,
    fallback_intent: str | None = None,
    revision: Any = None,
    connectors: list[ConnectorSpec] = (),
) -> Taxonomy:
    """A snapshot from plain data (the database loader, tests and evaluation use it)."""
    articles = list(articles)
    return Taxonomy(
        intents={info.slug: info for info in intents},
        signals=SignalMatcher(list(signals)),
        articles=ArticleIndex.build(articles),
        products=ProductMatcher(product_names_from_titles([a.title for a in articles])),
        classifier=classifier,
        classifier_version=classifier_version,
        fallback_intent=fallback_intent or settings.BOT_FALLBACK_INTENT,
        revision=revision,
        connectors=tuple(connectors),
    )


def taxonomy_load(revision: Any = None) -> Taxonomy:
    """Read the current taxonomy from the database, through ``knowledge.selectors``."""
    rows = taxonomy_rows()
    intents = [
        IntentInfo(
            slug=intent["slug"],
            name=intent["name"],
            description=intent["description"],
            escalation_policy=intent["escalation_policy"],
            required_details=tuple(
                d for d in intent["required_details"] if isinstance(d, dict) and d.get("name")
            ),
        )
        for intent in rows.intents
    ]
    articles = [
        ArticleDoc(id=a["id"], title=a["title"], body=a["body"], intents=a["intents"])
        for a in rows.articles
    ]
    classifier = None
    version = None
    if rows.classifier_artifact:
        try:
            classifier = IntentClassifier.from_bytes(rows.classifier_artifact)
            version = rows.classifier_version
        except Exception:  # a broken artifact must not take the bot down
            log.exception("could not load classifier v%s", rows.classifier_version)
    return taxonomy_from_data(
        intents=intents, signals=rows.signals, articles=articles, classifier=classifier,
        classifier_version=version, revision=revision, connectors=rows.connectors,
    )


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshot: Taxonomy | None = None
        self.checked_at = 0.0


_cache = _Cache()


def _revision() -> tuple[Any, ...]:
    try:
        counter = cache.get(REVISION_KEY, 0)
    except Exception:
        # The shared cache unreachable (Redis restarting): keep the counter this process
        # holds; the database's fingerprint still shows a changed taxonomy or model.
        log.warning("the taxonomy's revision could not be read from the cache")
        counter = _cache.snapshot.revision[0] if _cache.snapshot is not None else 0
    return (counter, *taxonomy_fingerprint())


def taxonomy_snapshot(*, fresh: bool = False) -> Taxonomy:
    """The current taxonomy, rebuilt only when it changed (checked at most once a second).

    ``fresh=True`` checks the revision now (one cache read and the fingerprint query): the
    admins' playground must answer with a model activated a moment ago in another process."""
    snapshot = _cache.snapshot
    now = time.monotonic()
    recent = not fresh and now - _cache.checked_at < CHECK_INTERVAL_SECONDS
    if snapshot is not None and recent:
        return snapshot
    with _cache.lock:
        snapshot = _cache.snapshot
        if snapshot is not None and not fresh and now - _cache.checked_at < CHECK_INTERVAL_SECONDS:
            return snapshot
        revision = _revision()
        if snapshot is None or snapshot.revision != revision:
            snapshot = taxonomy_load(revision)
            _cache.snapshot = snapshot
        _cache.checked_at = time.monotonic()
        return snapshot


def taxonomy_invalidate() -> None:
    """Make every process reload the taxonomy: this one at once, the others within a second."""
    try:
        cache.incr(REVISION_KEY)
    except ValueError:
        cache.set(REVISION_KEY, 1, timeout=None)
    with _cache.lock:
        _cache.snapshot = None
        _cache.checked_at = 0.0
