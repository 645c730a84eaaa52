"""Reads for the knowledge admin pages: lists with their counts, search, previews."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from .bot import bot_registered
from .connectors import ConnectorSpec
from .models import (
    Article,
    ArticleStatus,
    ArticleVersion,
    AuditLogEntry,
    ClassifierModel,
    ClassifierStatus,
    Connector,
    EscalationSignal,
    Intent,
    TrainingPhrase,
)

# Fewer phrases than this and the classifier has little to learn an intent from.
MIN_PHRASES_TO_TRAIN = 10
SIGNAL_PREVIEW_DAYS = 7
SIGNAL_PREVIEW_SCAN = 5000
SIGNAL_PREVIEW_SHOWN = 20


def classifier_active() -> ClassifierModel | None:
    return ClassifierModel.objects.filter(is_active=True).defer("artifact").first()


def classifier_compared_with(model: ClassifierModel) -> ClassifierModel | None:
    """The model to show beside ``model``: the active one, or, when ``model`` itself is
    active, the one that was active before it."""
    others = ClassifierModel.objects.defer("artifact").exclude(pk=model.pk)
    if not model.is_active:
        return others.filter(is_active=True).first()
    return others.filter(activated_at__isnull=False).order_by("-activated_at").first()


def classifier_list() -> QuerySet[ClassifierModel]:
    return ClassifierModel.objects.defer("artifact").select_related("trained_by")


def _count_of(rows: QuerySet, group_field: str) -> Subquery:
    counted = rows.order_by().values(group_field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def intent_list(*, include_inactive: bool = True) -> list[Intent]:
    """Intents with ``phrase_count``, ``article_count``, ``too_few_phrases`` and the active
    model's ``precision`` / ``recall`` for each (``None`` when it has no figure)."""
    # Two correlated counts, not one join: phrases x articles per intent would multiply.
    through = Article.intents.through
    intents = Intent.objects.annotate(
        phrase_count=_count_of(TrainingPhrase.objects.filter(intent=OuterRef("pk")), "intent"),
        article_count=_count_of(through.objects.filter(intent=OuterRef("pk")), "intent"),
    ).order_by("slug")
    if not include_inactive:
        intents = intents.filter(is_active=True)
    active = classifier_active()
    metrics = (active.metrics or {}) if active else {}
    per_intent: dict[str, dict[str, Any]] = metrics.get("per_intent") or {}
    rows = list(intents)
    for intent in rows:
        figures = per_intent.get(intent.slug) or {}
        intent.precision = figures.get("precision")
        intent.recall = figures.get("recall")
        intent.too_few_phrases = intent.phrase_count < MIN_PHRASES_TO_TRAIN
    return rows


def intent_wording(slug: str) -> tuple[str, str] | None:
    """The intent ``slug``'s ``(name, description)`` as admins wrote them, or None when no
    intent has this slug. One query."""
    return Intent.objects.filter(slug=slug).values_list("name", "description").first()


def article_published(pk: int) -> Article | None:
    """The published article with this id, for its public page; ``None`` for a draft or none."""
    return Article.objects.filter(pk=pk, status=ArticleStatus.PUBLISHED).first()


def articles_related(article: Article, *, limit: int = 5) -> list[Article]:
    """Other published articles that share an intent with ``article``, by title, at most
    ``limit``: the "related articles" of its public page (one query)."""
    return list(
        Article.objects.filter(status=ArticleStatus.PUBLISHED, intents__in=article.intents.all())
        .exclude(pk=article.pk)
        .distinct()
        .order_by("title")
        .only("pk", "title")[:limit]
    )


def articles_published_with_words(*, query: str, limit: int) -> QuerySet[Article]:
    """Published articles whose title or body holds each of the first six words of ``query``
    (case-insensitive), by title, at most ``limit``: the agents' console search."""
    articles = Article.objects.filter(status=ArticleStatus.PUBLISHED)
    for word in query.split()[:6]:
        articles = articles.filter(Q(title__icontains=word) | Q(body__icontains=word))
    return articles.order_by("title")[:limit]


def article_search(
    *, q: str = "", status: str = "", intent_slug: str = ""
) -> QuerySet[Article]:
    """Articles matching every given filter; the body is left unloaded for list pages."""
    articles = Article.objects.defer("body", "search_text").select_related("updated_by")
    q = " ".join(q.split()).lower()
    if q:
        articles = articles.filter(search_text__contains=q)
    if status:
        articles = articles.filter(status=status)
    if intent_slug:
        articles = articles.filter(intents__slug=intent_slug)
    return articles.order_by("title", "pk")


def article_page(articles: QuerySet[Article], *, number: Any, per_page: int) -> tuple[Page, list]:
    """One page of ``articles`` with a single pass over the matches: the matching ids come
    back in one query (counting and paging both use that list), then only the page's rows
    are loaded. A search scans every body once instead of twice (count, then page)."""
    ids = list(articles.values_list("pk", flat=True))
    page = Paginator(ids, per_page).get_page(number)
    by_id = {a.pk: a for a in articles.model.objects.defer("body", "search_text")
             .select_related("updated_by").filter(pk__in=list(page.object_list))}
    rows = [by_id[pk] for pk in page.object_list if pk in by_id]
    article_intents(rows)
    return page, rows


def article_intents(articles: list[Article]) -> None:
    """Attach ``intent_slugs`` to each article of a page with one query."""
    through = Article.intents.through
    by_article: dict[int, list[str]] = {a.pk: [] for a in articles}
    for article_id, slug in through.objects.filter(article_id__in=by_article).values_list(
        "article_id", "intent__slug"
    ):
        by_article[article_id].append(slug)
    for article in articles:
        article.intent_slugs = sorted(by_article[article.pk])


@dataclass
class VersionRow:
    version: ArticleVersion
    changed: list[str]


def article_version_rows(article: Article) -> list[VersionRow]:
    """Versions newest first, each with the fields it changed from the one before."""
    versions = list(article.versions.select_related("author").order_by("number"))
    rows, previous = [], None
    for version in versions:
        if previous is None:
            changed = ["created"]
        else:
            changed = [
                name
                for name in ("title", "body", "status", "intent_slugs")
                if getattr(previous, name) != getattr(version, name)
            ]
            changed = [("intents" if c == "intent_slugs" else c) for c in changed]
        rows.append(VersionRow(version=version, changed=changed))
        previous = version
    return rows[::-1]


def article_version_diff(previous: ArticleVersion | None, version: ArticleVersion) -> str:
    """The body's changes from the version before, as a unified diff ("" for the first)."""
    if previous is None:
        return ""
    return "\n".join(
        difflib.unified_diff(
            previous.body.splitlines(), version.body.splitlines(),
            f"v{previous.number}", f"v{version.number}", lineterm="",
        )
    )


# --- Escalation signals -----------------------------------------------------------------------


def signal_list() -> QuerySet[EscalationSignal]:
    return EscalationSignal.objects.order_by("category", "phrase")


@dataclass
class SignalPreview:
    phrase: str
    scanned: int
    matches: list[Any]  # customer messages: text, created_at, conversation_id
    total: int


def signal_preview(*, phrase: str, category: str = "other") -> SignalPreview:
    """Which of the last week's customer messages this phrase would have matched, matched by
    the pipeline's own rules (words in context, not substrings: ``knowledge.bot``)."""
    phrase = " ".join(phrase.split())
    since = timezone.now() - timedelta(days=SIGNAL_PREVIEW_DAYS)
    scanned, matches = bot_registered().customer_messages_matching(
        phrase=phrase, category=category, since=since, scan=SIGNAL_PREVIEW_SCAN
    )
    return SignalPreview(
        phrase=phrase, scanned=scanned, matches=matches[:SIGNAL_PREVIEW_SHOWN], total=len(matches)
    )


# --- Audit log --------------------------------------------------------------------------------


def audit_entries(*, object_type: str = "") -> QuerySet[AuditLogEntry]:
    entries = AuditLogEntry.objects.select_related("actor")
    if object_type:
        entries = entries.filter(object_type=object_type)
    return entries.order_by("-created_at", "-id")


def audit_object_types() -> list[str]:
    return list(
        AuditLogEntry.objects.order_by("object_type")
        .values_list("object_type", flat=True)
        .distinct()
    )


# A row still "training" after this long belongs to a worker that died; it blocks nothing.
TRAINING_STALE_AFTER = timedelta(minutes=30)


def training_is_running() -> bool:
    return ClassifierModel.objects.filter(
        status=ClassifierStatus.TRAINING, created_at__gte=timezone.now() - TRAINING_STALE_AFTER
    ).exists()


# --- The taxonomy, as the bot reads it ----------------------------------------------------------


@dataclass(frozen=True)
class TaxonomyRows:
    """The active taxonomy as plain values, for the bot (``chat.bot.taxonomy``).

    ``intents``: dicts with slug, name, description, escalation_policy and required_details
    (a list of ``{"name", "question"}``); ``signals``: (phrase, category) pairs; ``articles``:
    dicts with id, title, body (Markdown) and intents (a tuple of slugs), published ones only;
    ``classifier_version`` and ``classifier_artifact``: the active classifier, or None and
    b"" when none is active.
    """

    intents: list[dict[str, Any]]
    signals: list[tuple[str, str]]
    articles: list[dict[str, Any]]
    classifier_version: int | None
    classifier_artifact: bytes
    connectors: list[ConnectorSpec] = field(default_factory=list)


def taxonomy_rows() -> TaxonomyRows:
    """Active intents, active signals, published articles and the active classifier, in
    five queries."""
    intents = [
        {
            "slug": intent.slug,
            "name": intent.name,
            "description": intent.description,
            "escalation_policy": intent.escalation_policy,
            "required_details": intent.required_details or [],
        }
        for intent in Intent.objects.filter(is_active=True)
    ]
    signals = list(
        EscalationSignal.objects.filter(is_active=True).values_list("phrase", "category")
    )
    articles = [
        {
            "id": article.pk,
            "title": article.title,
            "body": article.body,
            "intents": tuple(i.slug for i in article.intents.all()),
        }
        for article in Article.objects.filter(status=ArticleStatus.PUBLISHED).prefetch_related(
            "intents"
        )
    ]
    active = ClassifierModel.objects.filter(is_active=True).only("version", "artifact").first()
    return TaxonomyRows(
        intents=intents,
        signals=signals,
        articles=articles,
        classifier_version=active.version if active is not None else None,
        classifier_artifact=bytes(active.artifact or b"") if active is not None else b"",
        connectors=connector_specs(),
    )


def connector_specs() -> list[ConnectorSpec]:
    """The active connectors as the bot calls them (secret header values included: for the
    call only, never for a page or a trace), by name."""
    return [connector_spec(c) for c in Connector.objects.filter(is_active=True)
            .prefetch_related("intents")]


def connector_spec(connector: Connector) -> ConnectorSpec:
    """One connector as a ``ConnectorSpec`` (its intents read from the prefetch or a query)."""
    return ConnectorSpec(
        id=connector.pk, name=connector.name, description=connector.description,
        intents=tuple(sorted(i.slug for i in connector.intents.all())),
        needs=tuple(connector.needs or ()), method=connector.method,
        url_template=connector.url_template, allowed_hosts=tuple(connector.allowed_hosts or ()),
        headers=tuple((str(k), str(v)) for k, v in (connector.headers or {}).items()),
        timeout_seconds=connector.timeout_seconds, verified_only=connector.verified_only,
        reply_template=connector.reply_template, fallback_text=connector.fallback_text,
    )


def taxonomy_fingerprint() -> tuple[Any, ...]:
    """Row counts and latest edits of the knowledge tables, and the active classifier's id:
    it changes whenever anything the bot reads from ``taxonomy_rows`` may have changed."""
    parts: list[Any] = []
    for model in (Intent, EscalationSignal, Connector):
        totals = model.objects.aggregate(rows=Count("id"), edited=Max("updated_at"))
        parts += [totals["rows"], str(totals["edited"])]
    # The articles and their links to intents in one query: a link added or removed changes
    # no article's updated_at.
    totals = Article.objects.aggregate(
        rows=Count("id", distinct=True), edited=Max("updated_at"), links=Count("intents")
    )
    parts += [totals["rows"], str(totals["edited"]), totals["links"]]
    active = ClassifierModel.objects.filter(is_active=True).values_list("id", flat=True)
    parts.append(active.first())
    return tuple(parts)


QUICK_REPLIES_MAX = 5


def quick_reply_topics(*, limit: int = QUICK_REPLIES_MAX) -> list[dict[str, str]]:
    """The greeting's topic buttons: active intents an admin gave a button label.

    Returns at most ``limit`` dicts ``{"intent": slug, "label": label}``, by label. A button
    sends its label as the customer's message, so the classifier reads it like any other.
    """
    return [
        {"intent": slug, "label": label}
        for slug, label in Intent.objects.filter(is_active=True)
        .exclude(button_label="")
        .order_by("button_label", "slug")
        .values_list("slug", "button_label")[:limit]
    ]
