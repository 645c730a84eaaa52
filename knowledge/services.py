"""Every write to the knowledge base: keyword-only, atomic, audited, and followed (on commit)
by ``knowledge.changes.taxonomy_changed`` so the bot reloads what changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .audit import audit_record, field_changes
from .changes import taxonomy_changed_on_commit
from .connector_network import HostUnresolved, shown
from .importexport import (
    BUTTON_LABEL_MAX,
    DETAIL_NAME_MAX,
    DETAIL_QUESTION_MAX,
    NAME_MAX,
    PHRASE_MAX,
    SIGNAL_MAX,
    SLUG_MAX,
    SLUG_RE,
    TITLE_MAX,
    name_from_slug,
    normalize_text,
    validate_phrases_csv,
    validate_taxonomy_json,
)
from .models import (
    Article,
    ArticleStatus,
    ArticleVersion,
    ClassifierModel,
    Connector,
    EscalationPolicy,
    EscalationSignal,
    Intent,
    SignalCategory,
    TrainingPhrase,
)

BULK_BATCH = 1000


# --- Checks -----------------------------------------------------------------------------------


def check_phrase_text(text: str) -> str:
    text = normalize_text(text or "")
    if not text:
        raise ValidationError({"text": "Type a phrase."})
    if len(text) > PHRASE_MAX:
        raise ValidationError(
            {"text": f"A phrase holds at most {PHRASE_MAX} characters (this one has {len(text)})."}
        )
    return text


def check_required_details(details: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    checked, names = [], set()
    for item in details:
        name = (item.get("name") or "").strip()
        question = normalize_text(item.get("question") or "")
        if not name or not SLUG_RE.match(name) or len(name) > DETAIL_NAME_MAX:
            raise ValidationError(
                {"required_details": f'"{name[:40]}" is not a detail name (letters, digits, _ -).'}
            )
        if not question or len(question) > DETAIL_QUESTION_MAX:
            raise ValidationError(
                {"required_details": f'Give the question the bot asks for "{name}" '
                 f"(at most {DETAIL_QUESTION_MAX} characters)."}
            )
        if name in names:
            raise ValidationError({"required_details": f'"{name}" is listed twice.'})
        names.add(name)
        checked.append({"name": name, "question": question})
    return checked


def check_button_label(label: str) -> str:
    """An intent's quick-reply label with its spaces collapsed; raises ``ValidationError``
    when it is longer than ``BUTTON_LABEL_MAX`` characters ("" means no button)."""
    label = " ".join((label or "").split())
    if len(label) > BUTTON_LABEL_MAX:
        raise ValidationError(
            {"button_label": f"A button label has at most {BUTTON_LABEL_MAX} characters."}
        )
    return label


def _check_intent_fields(
    *, slug: str, name: str, escalation_policy: str, exclude_pk: int | None = None
) -> None:
    errors: dict[str, str] = {}
    if not slug or not SLUG_RE.match(slug) or len(slug) > SLUG_MAX:
        errors["slug"] = f'Use letters, digits, "-" and "_" (at most {SLUG_MAX}).'
    elif Intent.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        errors["slug"] = f'An intent with the slug "{slug}" already exists.'
    if not name.strip() or len(name) > NAME_MAX:
        errors["name"] = f"Give a name of at most {NAME_MAX} characters."
    if escalation_policy not in EscalationPolicy.values:
        errors["escalation_policy"] = "Choose a policy."
    if errors:
        raise ValidationError(errors)


def _intent_state(intent: Intent) -> dict[str, Any]:
    return {
        "slug": intent.slug,
        "name": intent.name,
        "description": intent.description,
        "escalation_policy": intent.escalation_policy,
        "button_label": intent.button_label,
        "required_details": intent.required_details,
        "is_active": intent.is_active,
    }


# --- Intents and phrases ----------------------------------------------------------------------


@transaction.atomic
def intent_create(
    *,
    actor: Any,
    slug: str,
    name: str,
    description: str = "",
    escalation_policy: str = EscalationPolicy.NEVER,
    required_details: Sequence[dict[str, str]] = (),
    phrases: Sequence[str] = (),
    button_label: str = "",
) -> Intent:
    slug = slug.strip()
    _check_intent_fields(slug=slug, name=name, escalation_policy=escalation_policy)
    intent = Intent.objects.create(
        slug=slug,
        name=name.strip(),
        description=description.strip(),
        escalation_policy=escalation_policy,
        button_label=check_button_label(button_label),
        required_details=check_required_details(required_details),
    )
    texts = list(dict.fromkeys(check_phrase_text(p) for p in phrases))
    TrainingPhrase.objects.bulk_create(TrainingPhrase(intent=intent, text=t) for t in texts)
    audit_record(
        actor=actor, action="intent.create", obj=intent,
        changes={**{k: [None, v] for k, v in _intent_state(intent).items()},
                 "phrases": [None, len(texts)]},
    )
    taxonomy_changed_on_commit()
    return intent


@transaction.atomic
def intent_update(
    *,
    actor: Any,
    intent: Intent,
    slug: str,
    name: str,
    description: str,
    escalation_policy: str,
    required_details: Sequence[dict[str, str]],
    is_active: bool | None = None,
    button_label: str | None = None,
) -> Intent:
    slug = slug.strip()
    _check_intent_fields(
        slug=slug, name=name, escalation_policy=escalation_policy, exclude_pk=intent.pk
    )
    before = _intent_state(intent)
    intent.slug = slug
    intent.name = name.strip()
    intent.description = description.strip()
    intent.escalation_policy = escalation_policy
    intent.required_details = check_required_details(required_details)
    if button_label is not None:
        intent.button_label = check_button_label(button_label)
    if is_active is not None:
        intent.is_active = is_active
    changes = field_changes(before, _intent_state(intent))
    if changes:
        intent.save()
        audit_record(actor=actor, action="intent.update", obj=intent, changes=changes)
        taxonomy_changed_on_commit()
    return intent


@transaction.atomic
def intent_set_active(*, actor: Any, intent: Intent, is_active: bool) -> Intent:
    if intent.is_active != is_active:
        intent.is_active = is_active
        intent.save(update_fields=["is_active", "updated_at"])
        audit_record(
            actor=actor,
            action="intent.activate" if is_active else "intent.deactivate",
            obj=intent,
            changes={"is_active": [not is_active, is_active]},
        )
        taxonomy_changed_on_commit()
    return intent


@dataclass
class PhraseAdded:
    phrase: TrainingPhrase
    other_intents: list[str] = field(default_factory=list)  # slugs that already hold this text


def phrase_other_intents(*, text: str, intent: Intent) -> list[str]:
    """Slugs of other intents that already have this phrase (case-insensitive)."""
    return list(
        TrainingPhrase.objects.filter(text__iexact=normalize_text(text))
        .exclude(intent=intent)
        .values_list("intent__slug", flat=True)
        .distinct()
    )


@transaction.atomic
def phrase_add(*, actor: Any, intent: Intent, text: str) -> PhraseAdded:
    text = check_phrase_text(text)
    if intent.phrases.filter(text__iexact=text).exists():
        raise ValidationError({"text": f'"{text[:80]}" is already a phrase of this intent.'})
    try:
        with transaction.atomic():
            phrase = TrainingPhrase.objects.create(intent=intent, text=text)
    except IntegrityError:
        raise ValidationError({"text": "This phrase was just added."}) from None
    audit_record(
        actor=actor, action="phrase.add", obj=intent, changes={"phrase": [None, text]}
    )
    taxonomy_changed_on_commit()
    return PhraseAdded(phrase=phrase, other_intents=phrase_other_intents(text=text, intent=intent))


@transaction.atomic
def phrase_remove(*, actor: Any, phrase: TrainingPhrase) -> None:
    intent = phrase.intent
    text = phrase.text
    phrase.delete()
    audit_record(actor=actor, action="phrase.remove", obj=intent, changes={"phrase": [text, None]})
    taxonomy_changed_on_commit()


# --- Escalation signals -----------------------------------------------------------------------


def _check_signal(*, phrase: str, category: str, exclude_pk: int | None = None) -> str:
    phrase = normalize_text(phrase or "")
    errors: dict[str, str] = {}
    if not phrase:
        errors["phrase"] = "Type the words that signal an escalation."
    elif len(phrase) > SIGNAL_MAX:
        errors["phrase"] = f"A signal holds at most {SIGNAL_MAX} characters."
    elif EscalationSignal.objects.filter(phrase__iexact=phrase).exclude(pk=exclude_pk).exists():
        errors["phrase"] = f'The signal "{phrase}" already exists.'
    if category not in SignalCategory.values:
        errors["category"] = "Choose a category."
    if errors:
        raise ValidationError(errors)
    return phrase


@transaction.atomic
def signal_create(*, actor: Any, phrase: str, category: str) -> EscalationSignal:
    phrase = _check_signal(phrase=phrase, category=category)
    signal = EscalationSignal.objects.create(phrase=phrase, category=category)
    audit_record(
        actor=actor, action="signal.create", obj=signal,
        changes={"phrase": [None, phrase], "category": [None, category]},
    )
    taxonomy_changed_on_commit()
    return signal


@transaction.atomic
def signal_update(
    *, actor: Any, signal: EscalationSignal, phrase: str, category: str, is_active: bool
) -> EscalationSignal:
    phrase = _check_signal(phrase=phrase, category=category, exclude_pk=signal.pk)
    before = {"phrase": signal.phrase, "category": signal.category, "is_active": signal.is_active}
    after = {"phrase": phrase, "category": category, "is_active": is_active}
    changes = field_changes(before, after)
    if changes:
        signal.phrase, signal.category, signal.is_active = phrase, category, is_active
        signal.save()
        audit_record(actor=actor, action="signal.update", obj=signal, changes=changes)
        taxonomy_changed_on_commit()
    return signal


@transaction.atomic
def signal_set_active(*, actor: Any, signal: EscalationSignal, is_active: bool) -> EscalationSignal:
    if signal.is_active != is_active:
        signal.is_active = is_active
        signal.save(update_fields=["is_active", "updated_at"])
        audit_record(
            actor=actor,
            action="signal.enable" if is_active else "signal.disable",
            obj=signal,
            changes={"is_active": [not is_active, is_active]},
        )
        taxonomy_changed_on_commit()
    return signal


# --- Articles ---------------------------------------------------------------------------------


def _check_article(*, title: str, body: str, status: str) -> None:
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "Give the article a title."
    elif len(title) > TITLE_MAX:
        errors["title"] = f"A title holds at most {TITLE_MAX} characters."
    if status not in ArticleStatus.values:
        errors["status"] = "Choose draft or published."
    if errors:
        raise ValidationError(errors)


def _article_state(article: Article, intent_slugs: list[str]) -> dict[str, Any]:
    return {
        "title": article.title,
        "body": article.body,
        "status": article.status,
        "intents": intent_slugs,
    }


def _article_version_add(
    *, article: Article, intent_slugs: list[str], actor: Any
) -> ArticleVersion:
    last = article.versions.order_by("-number").values_list("number", flat=True).first() or 0
    return ArticleVersion.objects.create(
        article=article,
        number=last + 1,
        title=article.title,
        body=article.body,
        status=article.status,
        intent_slugs=intent_slugs,
        author=actor if getattr(actor, "is_authenticated", False) else None,
    )


def _actor_user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


@transaction.atomic
def article_create(
    *,
    actor: Any,
    title: str,
    body: str,
    status: str = ArticleStatus.DRAFT,
    intents: Iterable[Intent] = (),
) -> Article:
    _check_article(title=title, body=body, status=status)
    article = Article.objects.create(
        title=title.strip(), body=body, status=status, updated_by=_actor_user(actor)
    )
    intents = list(intents)
    article.intents.set(intents)
    slugs = sorted(i.slug for i in intents)
    _article_version_add(article=article, intent_slugs=slugs, actor=actor)
    audit_record(
        actor=actor, action="article.create", obj=article,
        changes=field_changes({}, _article_state(article, slugs)),
    )
    taxonomy_changed_on_commit()
    return article


def _article_apply(
    *, actor: Any, article: Article, title: str, body: str, status: str, intents: list[Intent],
    action: str, extra: dict[str, Any] | None = None,
) -> Article:
    _check_article(title=title, body=body, status=status)
    before_slugs = sorted(article.intents.values_list("slug", flat=True))
    before = _article_state(article, before_slugs)
    if not article.versions.exists():
        # Made without a service (a bulk load): keep its first state before changing it.
        _article_version_add(article=article, intent_slugs=before_slugs, actor=None)
    article.title, article.body, article.status = title.strip(), body, status
    slugs = sorted(i.slug for i in intents)
    changes = field_changes(before, _article_state(article, slugs))
    if not changes:
        return article
    article.updated_by = _actor_user(actor)
    article.save()
    article.intents.set(intents)
    version = _article_version_add(article=article, intent_slugs=slugs, actor=actor)
    audit_record(
        actor=actor, action=action, obj=article,
        changes={**changes, "version": [version.number - 1, version.number], **(extra or {})},
    )
    taxonomy_changed_on_commit()
    return article


@transaction.atomic
def article_update(
    *, actor: Any, article: Article, title: str, body: str, status: str, intents: Iterable[Intent]
) -> Article:
    return _article_apply(
        actor=actor, article=article, title=title, body=body, status=status,
        intents=list(intents), action="article.update",
    )


@transaction.atomic
def article_version_restore(*, actor: Any, article: Article, version: ArticleVersion) -> Article:
    """Make an earlier version current again; the restore itself becomes the newest version."""
    if version.article_id != article.pk:
        raise ValidationError("That version belongs to another article.")
    intents = list(Intent.objects.filter(slug__in=version.intent_slugs))
    return _article_apply(
        actor=actor, article=article, title=version.title, body=version.body,
        status=version.status, intents=intents, action="article.restore",
        extra={"restored_from": [None, version.number]},
    )


# --- Imports ----------------------------------------------------------------------------------


@dataclass
class ImportResult:
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)


@transaction.atomic
def taxonomy_import_json(*, actor: Any, data: bytes) -> ImportResult:
    """Validate the whole file, then upsert: intents by slug (their phrases become exactly the
    file's), signals by phrase, articles by title. Raises ``ImportRejected`` and writes nothing
    when any problem is found."""
    plan = validate_taxonomy_json(data)
    counts = dict.fromkeys(
        ["intents_created", "intents_updated", "phrases", "signals_created", "signals_updated",
         "articles_created", "articles_updated"], 0,
    )
    existing = {i.slug: i for i in Intent.objects.all()}
    for item in plan.intents:
        fields = {k: item[k] for k in
                  ("name", "description", "escalation_policy", "button_label",
                   "required_details", "is_active")}
        intent = existing.get(item["slug"])
        if intent is None:
            intent = Intent.objects.create(slug=item["slug"], **fields)
            existing[intent.slug] = intent
            counts["intents_created"] += 1
        else:
            for key, value in fields.items():
                setattr(intent, key, value)
            intent.save()
            counts["intents_updated"] += 1
            current = list(intent.phrases.order_by("pk").values_list("text", flat=True))
            if current == item["phrases"]:
                counts["phrases"] += len(current)
                continue
            intent.phrases.all().delete()
        TrainingPhrase.objects.bulk_create(
            (TrainingPhrase(intent=intent, text=t) for t in item["phrases"]), batch_size=BULK_BATCH
        )
        counts["phrases"] += len(item["phrases"])

    signals = {s.phrase.lower(): s for s in EscalationSignal.objects.all()}
    for item in plan.signals:
        signal = signals.get(item["phrase"].lower())
        if signal is None:
            EscalationSignal.objects.create(**item)
            counts["signals_created"] += 1
        else:
            signal.phrase, signal.category, signal.is_active = (
                item["phrase"], item["category"], item["is_active"]
            )
            signal.save()
            counts["signals_updated"] += 1

    articles: dict[str, Article] = {}
    for article in Article.objects.defer("search_text").order_by("-pk"):
        articles[article.title] = article  # the oldest article with a title wins
    for item in plan.articles:
        intents = [existing[s] for s in item["intents"]]
        article = articles.get(item["title"])
        if article is None:
            article = Article.objects.create(
                title=item["title"], body=item["body"], status=item["status"],
                updated_by=_actor_user(actor),
            )
            article.intents.set(intents)
            _article_version_add(article=article, intent_slugs=item["intents"], actor=actor)
            counts["articles_created"] += 1
        else:
            _article_apply(
                actor=actor, article=article, title=item["title"], body=item["body"],
                status=item["status"], intents=intents, action="article.import",
            )
            counts["articles_updated"] += 1
    counts.update(_connectors_import(actor=actor, items=plan.connectors, intents=existing))
    audit_record(
        actor=actor, action="taxonomy.import", object_type="taxonomy",
        object_repr="JSON import", changes={k: [None, v] for k, v in counts.items()},
    )
    taxonomy_changed_on_commit()
    warnings = [connector_unresolved_message(name, unresolved, on_its_page=False)
                for name, unresolved in plan.unresolved.items()]
    return ImportResult(counts=counts, warnings=warnings)


def connector_unresolved_message(
    name: str, unresolved: HostUnresolved, *, on_its_page: bool = True
) -> str:
    """What an admin reads when a connector named ``name`` was saved (on its page, or by an
    import: ``on_its_page=False``) although its URL's host gave no address."""
    how = (f"did not resolve within {unresolved.seconds:g} seconds" if unresolved.timed_out
           else "does not resolve")
    test = "Test (below)" if on_its_page else "Test, on the connector's page,"
    return (
        f'Connector "{name}" saved, but its host "{shown(unresolved.host)}" {how}: the bot\'s '
        f"calls to it fail until the name resolves. {test} calls it and shows whether it does."
    )


def _connectors_import(
    *, actor: Any, items: list[dict[str, Any]], intents: dict[str, Intent]
) -> dict[str, int]:
    """Upserts checked connectors by name; a connector's stored headers are kept (an export
    carries none), a new one has none until an admin sets them."""
    counts = {"connectors_created": 0, "connectors_updated": 0}
    stored = {c.name: c for c in Connector.objects.all()}
    for item in items:
        connector = stored.get(item["name"])
        before = _connector_state(connector) if connector else {}
        target = connector or Connector(name=item["name"])
        for key in ("description", "needs", "method", "url_template", "allowed_hosts",
                    "timeout_seconds", "verified_only", "reply_template", "fallback_text",
                    "is_active"):
            setattr(target, key, item[key])
        target.save()
        target.intents.set([intents[s] for s in item["intents"] if s in intents])
        counts["connectors_updated" if connector else "connectors_created"] += 1
        audit_record(
            actor=actor, action="connector_imported", obj=target,
            changes=field_changes(before, _connector_state(target)),
        )
    return counts


@transaction.atomic
def connector_headers_set(*, actor: Any, connector: Connector, headers: dict[str, str]) -> None:
    """Replaces a connector's headers (values write-only); the audit entry names them only.
    Raises ``ConnectorInvalid("headers", ...)`` for a header httpx cannot send, changing
    nothing."""
    from .connectors import check_headers

    headers = check_headers(headers)
    connector.headers = dict(headers)
    connector.save(update_fields=["headers", "updated_at"])
    audit_record(
        actor=actor, action="connector_headers_set", obj=connector,
        changes={"header_names": [None, sorted(headers)]},
    )
    taxonomy_changed_on_commit()


@transaction.atomic
def phrases_import_csv(*, actor: Any, data: bytes) -> ImportResult:
    """Add ``text,intent`` rows as phrases, creating missing intents; rows already present are
    skipped. Raises ``ImportRejected`` and writes nothing when any row is wrong."""
    plan = validate_phrases_csv(data)
    slugs = list(dict.fromkeys(slug for _, _, slug in plan.rows))
    intents = {i.slug: i for i in Intent.objects.filter(slug__in=slugs)}
    missing = [s for s in slugs if s not in intents]
    Intent.objects.bulk_create(
        (
            Intent(slug=s, name=(plan.labels.get(s) or name_from_slug(s))[:NAME_MAX])
            for s in missing
        ),
        batch_size=BULK_BATCH,
    )
    intents = {i.slug: i for i in Intent.objects.filter(slug__in=slugs)}
    present: set[tuple[int, str]] = set(
        TrainingPhrase.objects.filter(intent__slug__in=slugs).values_list("intent_id", "text")
    )
    new: list[TrainingPhrase] = []
    skipped = 0
    for _, text, slug in plan.rows:
        key = (intents[slug].pk, text)
        if key in present:
            skipped += 1
            continue
        present.add(key)
        new.append(TrainingPhrase(intent=intents[slug], text=text))
    TrainingPhrase.objects.bulk_create(new, batch_size=BULK_BATCH)
    counts = {
        "rows": len(plan.rows),
        "intents_created": len(missing),
        "phrases_added": len(new),
        "duplicates_skipped": skipped,
    }
    audit_record(
        actor=actor, action="phrases.import", object_type="taxonomy", object_repr="CSV import",
        changes={k: [None, v] for k, v in counts.items()},
    )
    taxonomy_changed_on_commit()
    warnings = [
        f'The label "{label}" is not a slug: its phrases went to the intent "{slug}".'
        for slug, label in sorted(plan.labels.items())
    ]
    return ImportResult(counts=counts, warnings=warnings)


# --- Classifier -------------------------------------------------------------------------------


def classifier_train(*, actor: Any) -> ClassifierModel:
    """Start training a new model (the Celery task runs after the commit)."""
    from knowledge.training import classifier_training_start

    with transaction.atomic():
        model = classifier_training_start(user=_actor_user(actor))
        audit_record(actor=actor, action="classifier.train", obj=model)
    return model


@transaction.atomic
def classifier_make_active(*, actor: Any, model: ClassifierModel) -> ClassifierModel:
    if model.status != "ready":
        raise ValidationError("Only a model that finished training can be activated.")
    from knowledge.training import classifier_activate

    previous = (
        ClassifierModel.objects.filter(is_active=True).values_list("version", flat=True).first()
    )
    model = classifier_activate(model=model, user=_actor_user(actor))
    audit_record(
        actor=actor, action="classifier.activate", obj=model,
        changes={"active_version": [previous, model.version]},
    )
    return model


# --- Data connectors ----------------------------------------------------------------------------


@dataclass
class ConnectorFields:
    """What an admin submits for a connector. ``headers`` None keeps the stored headers (their
    values are write-only, so an edit form never shows them); ``{}`` removes them."""

    name: str
    url_template: str
    reply_template: str
    allowed_hosts: list[str]
    description: str = ""
    intent_slugs: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    method: str = "GET"
    headers: dict[str, str] | None = None
    timeout_seconds: float = 3.0
    verified_only: bool = False
    fallback_text: str = ""
    is_active: bool = True


@dataclass
class ConnectorSaved:
    connector: Connector
    # The URL's host when it gave no address on save: saved anyway (an internal name may
    # resolve only later), and the bot's calls to it fail until it does.
    unresolved: HostUnresolved | None = None


def _check_connector(
    values: ConnectorFields, *, exclude_pk: int | None
) -> tuple[list[Intent], HostUnresolved | None]:
    """Raises ``ConnectorInvalid`` for the first field that cannot be saved; returns the
    intents named and the URL's host when it does not resolve (``check_url_template``)."""
    from .connectors import (
        DETAILS,
        MAX_TIMEOUT_SECONDS,
        ConnectorInvalid,
        check_headers,
        check_hosts,
        check_reply_template,
        check_url_template,
    )

    name = values.name.strip()
    if not name or len(name) > NAME_MAX:
        raise ConnectorInvalid("name", f"Give a name of 1 to {NAME_MAX} characters.")
    if Connector.objects.filter(name=name).exclude(pk=exclude_pk).exists():
        raise ConnectorInvalid("name", "Another connector has this name.")
    unknown = [n for n in values.needs if n not in DETAILS]
    if unknown:
        raise ConnectorInvalid("needs", f"Unknown detail: {unknown[0][:40]}.")
    if values.method not in ("GET", "POST"):
        raise ConnectorInvalid("method", "The method is GET or POST.")
    hosts = check_hosts(values.allowed_hosts)
    values.allowed_hosts = hosts
    unresolved = check_url_template(values.url_template.strip(), hosts=hosts, needs=values.needs)
    if not 0.1 <= values.timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise ConnectorInvalid(
            "timeout_seconds", f"The timeout is 0.1 to {MAX_TIMEOUT_SECONDS:g} seconds."
        )
    check_reply_template(values.reply_template)
    if len(values.fallback_text) > 500:
        raise ConnectorInvalid("fallback_text", "The fallback text is 500 characters at most.")
    if values.headers is not None:
        check_headers(values.headers)
    intents = list(Intent.objects.filter(slug__in=values.intent_slugs))
    missing = set(values.intent_slugs) - {i.slug for i in intents}
    if missing:
        raise ConnectorInvalid("intents", f"Unknown intent: {sorted(missing)[0][:60]}.")
    return intents, unresolved


def _connector_state(connector: Connector) -> dict[str, Any]:
    """The connector as the audit log records it: header names only, never their values."""
    return {
        "name": connector.name, "description": connector.description,
        "intents": sorted(connector.intents.values_list("slug", flat=True)),
        "needs": connector.needs, "method": connector.method,
        "url_template": connector.url_template, "allowed_hosts": connector.allowed_hosts,
        "header_names": sorted(connector.headers), "timeout_seconds": connector.timeout_seconds,
        "verified_only": connector.verified_only, "reply_template": connector.reply_template,
        "fallback_text": connector.fallback_text, "is_active": connector.is_active,
    }


@transaction.atomic
def connector_save(
    *, actor: Any, values: ConnectorFields, connector: Connector | None = None
) -> ConnectorSaved:
    """Creates (``connector`` None) or updates a connector after checking every field
    (``knowledge.connectors``: the reply template in its sandbox, the URL's host on the
    allow-list); raises ``ConnectorInvalid`` (a ``ValueError`` with ``field``) and writes
    nothing when one is refused. The audit entry names changed headers, never their values.

    A URL whose host name does not resolve now is saved, and said (``ConnectorSaved``'s
    ``unresolved``) so that the admin learns that calls fail until it does."""
    intents, unresolved = _check_connector(
        values, exclude_pk=connector.pk if connector else None
    )
    before = _connector_state(connector) if connector else {}
    headers_changed = values.headers is not None and (
        connector is None or values.headers != connector.headers
    )
    target = connector or Connector()
    target.name = values.name.strip()
    target.description = values.description.strip()
    target.needs = list(dict.fromkeys(values.needs))
    target.method = values.method
    target.url_template = values.url_template.strip()
    target.allowed_hosts = values.allowed_hosts
    if values.headers is not None:
        target.headers = dict(values.headers)
    target.timeout_seconds = float(values.timeout_seconds)
    target.verified_only = values.verified_only
    target.reply_template = values.reply_template
    target.fallback_text = values.fallback_text.strip()
    target.is_active = values.is_active
    target.save()
    target.intents.set(intents)
    changes = field_changes(before, _connector_state(target))
    if headers_changed:
        changes["header_values"] = ["", "changed (values are not recorded)"]
    audit_record(
        actor=actor, action="connector_created" if connector is None else "connector_updated",
        obj=target, changes=changes,
    )
    taxonomy_changed_on_commit()
    return ConnectorSaved(connector=target, unresolved=unresolved)


@transaction.atomic
def connector_delete(*, actor: Any, connector: Connector) -> None:
    """Deletes a connector, with an audit entry that keeps what it was (header names only)."""
    audit_record(actor=actor, action="connector_deleted", obj=connector,
                 changes=field_changes(_connector_state(connector), {}))
    connector.delete()
    taxonomy_changed_on_commit()
