"""The knowledge admin: thin views that parse, call one service or selector, and render.

Each page has one template; when htmx asks, the same view renders only the named partial
(``"knowledge/page.html#fragment"``). Every view is for admins only.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from accounts.roles import area_required

from . import selectors, services
from .bot import bot_registered
from .connectors import (
    CallOutcome,
    ConnectorInvalid,
    build_url,
    connector_call,
    mask_url,
    masked_headers,
)
from .forms import (
    ArticleFilterForm,
    ArticleForm,
    ArticlePreviewForm,
    ConnectorForm,
    ConnectorTestForm,
    ImportForm,
    IntentForm,
    PhraseForm,
    PlaygroundForm,
    SignalForm,
    SignalPreviewForm,
)
from .importexport import MAX_IMPORT_BYTES, ImportRejected, taxonomy_export
from .markdown import render_markdown
from .models import (
    Article,
    ArticleVersion,
    ClassifierModel,
    ClassifierStatus,
    Connector,
    EscalationSignal,
    Intent,
    TrainingPhrase,
)
from .safejson import has_unstorable

logger = logging.getLogger(__name__)

ARTICLES_PER_PAGE = 25
AUDIT_PER_PAGE = 50


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    # A history restore asks for the whole page (htmx had nothing cached for it).
    fragment = bool(partial and request.htmx and not request.htmx.history_restore_request)
    response = render(request, f"{template}#{partial}" if fragment else template, context,
                      status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _form_error(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@area_required("knowledge")
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "knowledge/index.html",
        {
            "intent_count": Intent.objects.count(),
            "phrase_count": TrainingPhrase.objects.count(),
            "signal_count": EscalationSignal.objects.count(),
            "article_count": Article.objects.count(),
            "active_model": selectors.classifier_active(),
            "recent_entries": selectors.audit_entries()[:10],
        },
    )


# --- Intents ----------------------------------------------------------------------------------


@area_required("knowledge")
@require_GET
def intent_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "knowledge/intent_list.html",
        {
            "intents": selectors.intent_list(),
            "active_model": selectors.classifier_active(),
            "min_phrases": selectors.MIN_PHRASES_TO_TRAIN,
        },
    )


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def intent_create(request: HttpRequest) -> HttpResponse:
    form = IntentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            intent = services.intent_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f'Intent "{intent.slug}" created. Now add its phrases.')
            return redirect("knowledge:intent_edit", pk=intent.pk)
    return render(
        request, "knowledge/intent_form.html", {"form": form, "intent": None},
        status=400 if form.errors else 200,
    )


def _intent_initial(intent: Intent) -> dict[str, Any]:
    return {
        "slug": intent.slug,
        "name": intent.name,
        "description": intent.description,
        "escalation_policy": intent.escalation_policy,
        "button_label": intent.button_label,
        "required_details": IntentForm.details_text(intent.required_details),
    }


def _phrases_context(intent: Intent, **extra: Any) -> dict[str, Any]:
    phrases = list(intent.phrases.order_by("pk"))
    lowered = [p.text.lower() for p in phrases]
    elsewhere: dict[str, set[str]] = {}
    for text, slug in (
        TrainingPhrase.objects.annotate(lower_text=Lower("text"))
        .filter(lower_text__in=lowered)
        .exclude(intent=intent)
        .values_list("lower_text", "intent__slug")
    ):
        elsewhere.setdefault(text, set()).add(slug)
    for phrase in phrases:
        phrase.other_intents = sorted(elsewhere.get(phrase.text.lower(), ()))
    return {
        "intent": intent,
        "phrases": phrases,
        "too_few_phrases": len(phrases) < selectors.MIN_PHRASES_TO_TRAIN,
        "min_phrases": selectors.MIN_PHRASES_TO_TRAIN,
        "phrase_form": extra.pop("phrase_form", None) or PhraseForm(),
        **extra,
    }


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def intent_edit(request: HttpRequest, pk: int) -> HttpResponse:
    intent = get_object_or_404(Intent, pk=pk)
    form = IntentForm(request.POST or None, initial=_intent_initial(intent))
    if request.method == "POST" and form.is_valid():
        try:
            services.intent_update(actor=request.user, intent=intent, **form.cleaned_data)
        except ValidationError as exc:
            _form_error(form, exc)
            intent.refresh_from_db()
        else:
            messages.success(request, f'Intent "{intent.slug}" saved.')
            return redirect("knowledge:intent_edit", pk=intent.pk)
    active = selectors.classifier_active()
    figures = ((active.metrics or {}).get("per_intent") or {}).get(intent.slug) if active else None
    return render(
        request,
        "knowledge/intent_form.html",
        {"form": form, "active_model": active, "figures": figures, **_phrases_context(intent)},
        status=400 if form.errors else 200,
    )


@area_required("knowledge")
@require_POST
def intent_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    intent = get_object_or_404(Intent, pk=pk)
    services.intent_set_active(actor=request.user, intent=intent, is_active=not intent.is_active)
    messages.success(
        request, f'Intent "{intent.slug}" {"activated" if intent.is_active else "deactivated"}.'
    )
    target = reverse("knowledge:intent_edit", args=[intent.pk])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@area_required("knowledge")
@require_POST
def phrase_add(request: HttpRequest, pk: int) -> HttpResponse:
    intent = get_object_or_404(Intent, pk=pk)
    form = PhraseForm(request.POST)
    extra: dict[str, Any] = {}
    status = 200
    if form.is_valid():
        try:
            added = services.phrase_add(actor=request.user, intent=intent, **form.cleaned_data)
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            extra["added"] = added
            form = PhraseForm()
    if form.errors:
        status = 400
        extra["phrase_form"] = form
    if not request.htmx:
        if form.errors:
            return render(
                request, "knowledge/intent_form.html",
                {"form": IntentForm(initial=_intent_initial(intent)),
                 **_phrases_context(intent, **extra)},
                status=status,
            )
        if extra.get("added") and extra["added"].other_intents:
            messages.warning(request, _conflict_message(extra["added"]))
        return redirect("knowledge:intent_edit", pk=intent.pk)
    return render(
        request, "knowledge/intent_form.html#phrases", _phrases_context(intent, **extra),
        status=status,
    )


def _conflict_message(added: services.PhraseAdded) -> str:
    return (
        f'"{added.phrase.text}" is also a phrase of {", ".join(added.other_intents)}: '
        "the classifier cannot tell them apart on it."
    )


@area_required("knowledge")
@require_POST
def phrase_remove(request: HttpRequest, pk: int) -> HttpResponse:
    phrase = get_object_or_404(TrainingPhrase.objects.select_related("intent"), pk=pk)
    intent = phrase.intent
    services.phrase_remove(actor=request.user, phrase=phrase)
    if not request.htmx:
        return redirect("knowledge:intent_edit", pk=intent.pk)
    return render(request, "knowledge/intent_form.html#phrases", _phrases_context(intent))


# --- Escalation signals -----------------------------------------------------------------------


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def signal_list(request: HttpRequest) -> HttpResponse:
    form = SignalForm(request.POST or None, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            signal = services.signal_create(
                actor=request.user,
                phrase=form.cleaned_data["phrase"],
                category=form.cleaned_data["category"],
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f'Signal "{signal.phrase}" added.')
            return redirect("knowledge:signal_list")
    return render(
        request,
        "knowledge/signal_list.html",
        {"form": form, "signals": selectors.signal_list()},
        status=400 if form.errors else 200,
    )


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def signal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    signal = get_object_or_404(EscalationSignal, pk=pk)
    form = SignalForm(
        request.POST or None,
        initial={"phrase": signal.phrase, "category": signal.category,
                 "is_active": signal.is_active},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.signal_update(actor=request.user, signal=signal, **form.cleaned_data)
        except ValidationError as exc:
            _form_error(form, exc)
            signal.refresh_from_db()
        else:
            messages.success(request, f'Signal "{signal.phrase}" saved.')
            return redirect("knowledge:signal_list")
    return render(
        request, "knowledge/signal_form.html", {"form": form, "signal": signal},
        status=400 if form.errors else 200,
    )


@area_required("knowledge")
@require_POST
def signal_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    signal = get_object_or_404(EscalationSignal, pk=pk)
    services.signal_set_active(actor=request.user, signal=signal, is_active=not signal.is_active)
    if request.htmx:
        return render(request, "knowledge/signal_list.html#signal_row", {"signal": signal})
    return redirect("knowledge:signal_list")


@area_required("knowledge")
@require_GET
def signal_preview(request: HttpRequest) -> HttpResponse:
    form = SignalPreviewForm(request.GET)
    if not form.is_valid():
        return render(
            request, "knowledge/signal_preview.html", {"form": form, "preview": None}, status=400
        )
    preview = selectors.signal_preview(
        phrase=form.cleaned_data["phrase"], category=form.cleaned_data["category"] or "other"
    )
    return _render(
        request, "knowledge/signal_preview.html", {"form": form, "preview": preview}, "preview"
    )


# --- Articles ---------------------------------------------------------------------------------


@area_required("knowledge")
@require_GET
def article_list(request: HttpRequest) -> HttpResponse:
    filters = ArticleFilterForm(request.GET)
    cleaned = filters.cleaned_data if filters.is_valid() else {}
    articles = selectors.article_search(
        q=cleaned.get("q", ""),
        status=cleaned.get("status", ""),
        intent_slug=cleaned.get("intent", ""),
    )
    page, rows = selectors.article_page(
        articles, number=request.GET.get("page"), per_page=ARTICLES_PER_PAGE
    )
    query = request.GET.copy()
    query.pop("page", None)
    return _render(
        request,
        "knowledge/article_list.html",
        {
            "filters": filters,
            "page": page,
            "articles": rows,
            "intent_slugs": list(Intent.objects.order_by("slug").values_list("slug", flat=True)),
            "query": query.urlencode(),
        },
        "results",
    )


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def article_create(request: HttpRequest) -> HttpResponse:
    form = ArticleForm(request.POST or None, initial={"status": "draft"})
    if request.method == "POST" and form.is_valid():
        try:
            article = services.article_create(actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f'Article "{article.title}" created.')
            return redirect("knowledge:article_edit", pk=article.pk)
    body = form.data.get("body", "") if form.is_bound else ""
    return render(
        request,
        "knowledge/article_form.html",
        {"form": form, "article": None, "preview_html": render_markdown(body)},
        status=400 if form.errors else 200,
    )


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=pk)
    form = ArticleForm(
        request.POST or None,
        initial={
            "title": article.title,
            "body": article.body,
            "status": article.status,
            "intents": list(article.intents.all()),
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.article_update(actor=request.user, article=article, **form.cleaned_data)
        except ValidationError as exc:
            _form_error(form, exc)
            article.refresh_from_db()
        else:
            messages.success(request, f'Article "{article.title}" saved.')
            return redirect("knowledge:article_edit", pk=article.pk)
    body = form.data.get("body", "") if form.is_bound else article.body
    return render(
        request,
        "knowledge/article_form.html",
        {
            "form": form,
            "article": article,
            "preview_html": render_markdown(body),
            "version_count": article.versions.count(),
        },
        status=400 if form.errors else 200,
    )


@area_required("knowledge")
@require_POST
def article_preview(request: HttpRequest) -> HttpResponse:
    form = ArticlePreviewForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("The body is too long to preview.")
    return render(
        request,
        "knowledge/article_form.html#preview",
        {"preview_html": render_markdown(form.cleaned_data["body"])},
    )


@area_required("knowledge")
@require_GET
def article_versions(request: HttpRequest, pk: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=pk)
    return render(
        request,
        "knowledge/article_versions.html",
        {"article": article, "rows": selectors.article_version_rows(article)},
    )


@area_required("knowledge")
@require_GET
def article_version(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=pk)
    version = get_object_or_404(ArticleVersion, article=article, number=number)
    previous = article.versions.filter(number__lt=number).order_by("-number").first()
    return render(
        request,
        "knowledge/article_version.html",
        {
            "article": article,
            "version": version,
            "previous": previous,
            "diff": selectors.article_version_diff(previous, version),
            "preview_html": render_markdown(version.body),
        },
    )


@area_required("knowledge")
@require_POST
def article_version_restore(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=pk)
    version = get_object_or_404(ArticleVersion, article=article, number=number)
    services.article_version_restore(actor=request.user, article=article, version=version)
    messages.success(request, f"Version {number} restored.")
    target = reverse("knowledge:article_edit", args=[article.pk])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


# --- Import and export ------------------------------------------------------------------------


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def import_export(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            problems = [
                f"The file is {upload.size // 1024} kB; the limit is {MAX_IMPORT_BYTES // 1024} kB."
            ]
        else:
            data = upload.read()
            importer = (
                services.taxonomy_import_json
                if form.cleaned_data["kind"] == "json"
                else services.phrases_import_csv
            )
            try:
                result = importer(actor=request.user, data=data)
            except ImportRejected as exc:
                problems = exc.problems
    status = 400 if (form.errors or problems) else 200
    return _render(
        request,
        "knowledge/import_export.html",
        {"form": form, "problems": problems, "result": result},
        "outcome",
        status=status,
    )


@area_required("knowledge")
@require_GET
def export_json(request: HttpRequest) -> HttpResponse:
    body = json.dumps(taxonomy_export(), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="knowledge-{stamp}.json"'
    return response


# --- Training ---------------------------------------------------------------------------------


def _model_context(model: ClassifierModel) -> dict[str, Any]:
    active = selectors.classifier_compared_with(model)
    metrics = model.metrics or {}
    return {
        "model": model,
        "active_model": active,
        "active_label": "Active model" if active is None or active.is_active
        else "Previously active",
        "metrics": metrics,
        "active_metrics": (active.metrics or {}) if active else {},
        "confusions": (metrics.get("confusions") or [])[:10],
        "progress_percent": round((model.progress or 0) * 100),
    }


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def training(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if selectors.training_is_running():
            messages.warning(request, "A model is already training; wait for it to finish.")
            return redirect("knowledge:training")
        model = services.classifier_train(actor=request.user)
        target = reverse("knowledge:model_detail", args=[model.pk])
        return redirect(target)
    return render(
        request,
        "knowledge/training.html",
        {
            "models": selectors.classifier_list()[:50],
            "active_model": selectors.classifier_active(),
            "running": selectors.training_is_running(),
        },
    )


@area_required("knowledge")
@require_GET
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(ClassifierModel.objects.defer("artifact"), pk=pk)
    context = _model_context(model)
    if request.htmx:
        response = render(request, "knowledge/model_detail.html#status", context)
        if model.status != ClassifierStatus.TRAINING:
            # Tell htmx to stop polling: the fragment it receives now is final.
            stop = HttpResponseStopPolling(response.content)
            stop["Content-Type"] = response["Content-Type"]
            return stop
        return response
    return render(request, "knowledge/model_detail.html", context)


@area_required("knowledge")
@require_POST
def model_activate(request: HttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(ClassifierModel.objects.defer("artifact"), pk=pk)
    try:
        services.classifier_make_active(actor=request.user, model=model)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Model v{model.version} is now active.")
    target = reverse("knowledge:model_detail", args=[model.pk])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


# --- Playground -------------------------------------------------------------------------------


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def playground(request: HttpRequest) -> HttpResponse:
    form = PlaygroundForm(request.POST or None)
    result = None
    if request.method == "POST" and form.is_valid():
        result = bot_registered().playground_turn(
            text=form.cleaned_data["text"],
            history=form.cleaned_data["history"],
            dialog_state=form.cleaned_data["dialog_state"],
        )
    context: dict[str, Any] = {"form": form, "result": result}
    if result is not None:
        trace = result.trace or {}
        quality = trace.get("quality", trace.get("quality_check"))
        context.update(
            trace_json=_pretty(trace),
            dialog_json=_pretty(result.dialog_state),
            next_history="\n".join([*form.cleaned_data["history"], form.cleaned_data["text"]]),
            next_dialog_state=json.dumps(result.dialog_state, default=str),
            quality=None if quality is None else _pretty(quality),
            escalation=_pretty(trace["escalation"]) if "escalation" in trace else None,
            smalltalk=(trace.get("dialog") or {}).get("smalltalk", ""),
            connector_call=trace.get("connector"),
        )
    return _render(
        request,
        "knowledge/playground.html",
        context,
        "trace",
        status=400 if form.errors else 200,
    )


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


# --- Audit log --------------------------------------------------------------------------------


@area_required("knowledge")
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    object_type = request.GET.get("type", "")[:40]
    if has_unstorable(object_type):  # a NUL from the query string names no type
        object_type = ""
    page = Paginator(selectors.audit_entries(object_type=object_type), AUDIT_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return _render(
        request,
        "knowledge/audit_log.html",
        {
            "page": page,
            "query": urlencode({"type": object_type}) if object_type else "",
            "object_type": object_type,
            "object_types": selectors.audit_object_types(),
        },
        "entries",
    )


# --- Data connectors ----------------------------------------------------------------------------


def _connector_initial(connector: Connector) -> dict[str, Any]:
    return {
        "name": connector.name, "description": connector.description,
        "intents": list(connector.intents.values_list("slug", flat=True)),
        "needs": connector.needs, "method": connector.method,
        "url_template": connector.url_template,
        "allowed_hosts": ", ".join(connector.allowed_hosts),
        "timeout_seconds": connector.timeout_seconds, "verified_only": connector.verified_only,
        "reply_template": connector.reply_template, "fallback_text": connector.fallback_text,
        "is_active": connector.is_active,
    }


def _connector_fields(data: dict[str, Any]) -> services.ConnectorFields:
    headers = {} if data["clear_headers"] else data["headers"]
    return services.ConnectorFields(
        name=data["name"], description=data["description"],
        intent_slugs=[i.slug for i in data["intents"]], needs=list(data["needs"]),
        method=data["method"], url_template=data["url_template"],
        allowed_hosts=data["allowed_hosts"], headers=headers,
        timeout_seconds=data["timeout_seconds"], verified_only=data["verified_only"],
        reply_template=data["reply_template"], fallback_text=data["fallback_text"],
        is_active=data["is_active"],
    )


@area_required("knowledge")
@require_GET
def connector_list(request: HttpRequest) -> HttpResponse:
    connectors = Connector.objects.prefetch_related("intents").order_by("name")
    return render(request, "knowledge/connector_list.html", {"connectors": connectors})


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def connector_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Creates (no ``pk``) or edits a connector; a refused field is shown with the reason."""
    connector = get_object_or_404(Connector, pk=pk) if pk is not None else None
    initial = _connector_initial(connector) if connector else {"timeout_seconds": 3.0,
                                                               "is_active": True}
    form = ConnectorForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.connector_save(
                actor=request.user, values=_connector_fields(form.cleaned_data),
                connector=connector,
            )
        except ConnectorInvalid as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        else:
            if saved.unresolved:
                messages.warning(request, services.connector_unresolved_message(
                    saved.connector.name, saved.unresolved))
            else:
                messages.success(request, f'Connector "{saved.connector.name}" saved.')
            return redirect("knowledge:connector_edit", pk=saved.connector.pk)
    context = {
        "form": form, "connector": connector,
        "header_names": sorted(connector.headers) if connector else [],
        "test_form": ConnectorTestForm(needs=connector.needs) if connector else None,
        "test": None,
    }
    return render(request, "knowledge/connector_form.html", context,
                  status=400 if form.errors else 200)


@area_required("knowledge")
@require_POST
def connector_test(request: HttpRequest, pk: int) -> HttpResponse:
    """The Test button: one call with sample values; shows the request with its secrets
    masked, the response and the reply."""
    connector = get_object_or_404(Connector, pk=pk)
    test_form = ConnectorTestForm(request.POST, needs=connector.needs)
    test = None
    if test_form.is_valid():
        spec = selectors.connector_spec(connector)
        values = {k: v for k, v in test_form.cleaned_data.items() if v}
        try:
            outcome = connector_call(spec, values)
        except Exception as error:  # connector_call never raises; should it, a 200 still says so
            logger.exception("connector %s: the Test call failed", connector.pk)
            outcome = CallOutcome(connector=spec.name, method=spec.method,
                                  url=mask_url(build_url(spec, values)),
                                  reason=f"error: {type(error).__name__}")
        shown = json.dumps(outcome.data, indent=2, ensure_ascii=False)[:5000] if (
            outcome.data is not None) else ""
        # The reply as the widget shows it: Markdown, the API's values as literal text.
        test = {"outcome": outcome, "headers": masked_headers(spec), "response": shown,
                "reply_html": render_markdown(outcome.reply) if outcome.ok else ""}
    context = {
        "form": ConnectorForm(initial=_connector_initial(connector)), "connector": connector,
        "header_names": sorted(connector.headers), "test_form": test_form, "test": test,
    }
    return _render(request, "knowledge/connector_form.html", context, partial="test_result",
                   status=200 if test_form.is_valid() else 400)


def confirm_delete_page(
    request: HttpRequest, *, what: str, name: str, consequence: str, cancel_url: str
) -> HttpResponse:
    """The page that asks before a deletion: "Delete this ``what``?", the item's ``name``, what
    deleting it stops (``consequence``), a Delete button that posts to the same address and a
    Cancel link to ``cancel_url``. The view's POST does the deletion."""
    return render(request, "knowledge/confirm_delete.html", {
        "what": what, "name": name, "consequence": consequence, "cancel_url": cancel_url,
    })


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def connector_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm (what the deletion stops); POST deletes and audits it."""
    connector = get_object_or_404(Connector, pk=pk)
    if request.method == "GET":
        return confirm_delete_page(
            request, what="connector", name=connector.name,
            consequence="The bot stops looking this up: its intents answer from their "
                        "articles and offer a person instead.",
            cancel_url=reverse("knowledge:connector_edit", args=[connector.pk]),
        )
    services.connector_delete(actor=request.user, connector=connector)
    messages.success(request, f'Connector "{connector.name}" deleted.')
    return redirect("knowledge:connector_list")
