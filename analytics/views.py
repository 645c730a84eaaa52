"""The managers' dashboard: one page (or its htmx fragments) and one chart-data endpoint."""

from __future__ import annotations

import csv
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.roles import area_required, can_open

from .forms import DEFAULT_PRESET, PRESETS, ReportForm
from .gaps import gap_add_phrases, gap_draft_article, gap_effects_attach, gap_mark_out_of_scope
from .kpis import CHART_BY_KEY, CHARTS, Report, tiles
from .selectors import connector_call_counts, connector_counts
from .zones import zone_label

ZONE_SESSION_KEY = "analytics_zone"


def _report_form(request: HttpRequest, query: QueryDict | None = None) -> ReportForm:
    """The filters of the query (``query``, else the request's); the time zone defaults to
    the one this manager chose last (kept in their session), else the desk's."""
    params = request.GET if query is None else query
    form = ReportForm(
        params if params else {"range": DEFAULT_PRESET},
        zone=request.session.get(ZONE_SESSION_KEY, ""),
    )
    if form.is_valid() and params.get("tz"):
        request.session[ZONE_SESSION_KEY] = form.cleaned_data["tz"]
    return form


GAP_PAGE = 10  # gap groups shown at first, and added by each "show more"


def _gaps_shown(request: HttpRequest) -> int:
    """How many gap groups to show: ``?gaps=N`` (a "show more" link), at least ``GAP_PAGE``;
    anything that is not a whole number gives the first page."""
    raw = request.GET.get("gaps", "")
    number = int(raw) if raw.isdigit() and len(raw) < 7 else GAP_PAGE
    return max(GAP_PAGE, number)


def _context(request: HttpRequest, form: ReportForm) -> dict[str, Any]:
    # Knowledge-gap links lead to the knowledge admin, which only admins may open.
    context: dict[str, Any] = {
        "form": form,
        "presets": PRESETS,
        "can_fix": can_open(request.user, "knowledge"),
    }
    if form.errors:
        return context
    report = Report(form.scope(), cache=True)
    query = form.querystring()
    charts = []
    if not report.is_empty:
        for chart in CHARTS:
            data = chart.build(report)
            charts.append(
                {
                    "chart": chart,
                    "data": data,
                    "rows": list(
                        zip(
                            data.labels,
                            data.rows(),
                            data.links or [""] * len(data.labels),
                            strict=True,
                        )
                    ),
                    "csv_url": f"{reverse('analytics:chart', args=[chart.key])}?{query}&format=csv",
                    "json_id": f"chart-data-{chart.key}",
                }
            )
    all_groups = report.gap_groups if not report.is_empty else []
    shown = _gaps_shown(request)
    gap_groups_shown = all_groups[:shown]
    set_aside = report.gap_groups_out_of_scope if not report.is_empty else []
    gap_effects_attach([*gap_groups_shown, *set_aside], report.period.zone)
    context.update(
        zone=zone_label(report.period.zone),
        data_starts=form.data_starts,
        gap_groups=gap_groups_shown,
        gap_groups_total=len(all_groups),
        gap_groups_more=min(GAP_PAGE, len(all_groups) - len(gap_groups_shown)),
        gap_groups_next=shown + GAP_PAGE,
        gap_groups_shown=shown,
        gap_groups_out_of_scope=set_aside,
        fallback_intent=settings.BOT_FALLBACK_INTENT,
        article_stats=report.article_stats if not report.is_empty else [],
        connector_counts=sorted(
            connector_counts(since=report.period.start, until=report.period.end).items()
        ) if not report.is_empty else [],
        connector_call_counts=sorted(
            connector_call_counts(since=report.period.start, until=report.period.end).items()
        ) if not report.is_empty else [],
        by_design=report.by_design if not report.is_empty else [],
        # Phrases taught to the fallback intent would stay gaps (``gaps.gap_add_phrases``).
        intent_slugs=[
            slug for slug, _ in form.fields["intent"].choices
            if slug and slug != settings.BOT_FALLBACK_INTENT
        ],
        report=report,
        period=report.period,
        previous=report.previous,
        tile_groups=tiles(report),
        charts=charts,
        query=query,
    )
    return context


@area_required("analytics")
@vary_on_headers("HX-Request")
def dashboard(request: HttpRequest) -> HttpResponse:
    """The full page, or with htmx the report fragment for the chosen range and filters.

    A history-restore request (back button after the page left htmx's cache) gets the full
    page, as htmx swaps it in whole.
    """
    form = _report_form(request)
    status = 400 if form.errors else 200
    fragment = request.htmx and not request.htmx.history_restore_request
    template = "analytics/dashboard.html#report" if fragment else "analytics/dashboard.html"
    return render(request, template, _context(request, form), status=status)


@area_required("analytics")
def tiles_fragment(request: HttpRequest) -> HttpResponse:
    """The KPI tiles alone; the page polls this to keep them fresh."""
    form = _report_form(request)
    if form.errors:
        return render(request, "analytics/dashboard.html#errors", {"form": form}, status=400)
    report = Report(form.scope(), cache=True)
    context = {
        "report": report,
        "tile_groups": tiles(report),
        "query": form.querystring(),
        "period": report.period,
        "previous": report.previous,
    }
    return render(request, "analytics/dashboard.html#tiles", context)


@area_required("analytics")
def chart_data(request: HttpRequest, key: str) -> HttpResponse:
    """Every chart's numbers, as JSON or (``?format=csv``) as a CSV download."""
    chart = CHART_BY_KEY.get(key)
    if chart is None:
        raise Http404("No such chart.")
    fmt = request.GET.get("format", "json")
    if fmt not in {"json", "csv"}:
        return JsonResponse({"error": "format must be json or csv"}, status=400)
    form = _report_form(request)
    if form.errors:
        return JsonResponse({"error": "invalid filters", "fields": form.errors}, status=400)
    scope = form.scope()
    data = chart.build(Report(scope, cache=True))
    if fmt == "json":
        return JsonResponse(
            {
                "key": chart.key,
                "label": chart.label,
                "definition": chart.definition,
                "start": scope.period.first_day.isoformat(),
                "end": scope.period.last_day.isoformat(),
                **data.to_dict(),
            }
        )
    filename = f"{chart.key}_{scope.period.first_day}_{scope.period.last_day}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # a UTF-8 byte-order mark, so that Excel reads UTF-8
    writer = csv.writer(response)
    writer.writerow([_label_header(chart.key), *(ds["label"] for ds in data.datasets)])
    for row in data.rows():
        writer.writerow([_csv_safe(cell) for cell in row])
    return response


def _label_header(key: str) -> str:
    return {
        "conversations_daily": "day",
        "handoff_reasons": "category",
        "gap_messages": "message",
        "kpis": "kpi",
    }.get(key, "intent")


def _csv_safe(cell: Any) -> Any:
    """Customer text must not become a formula in a spreadsheet (CSV injection)."""
    if cell is None:
        return ""
    if isinstance(cell, str) and cell[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + cell
    return cell


GAP_ACTIONS = {"add_phrases", "draft_article", "out_of_scope"}


@require_POST
@area_required("knowledge")
def gap_act(request: HttpRequest) -> HttpResponse:
    """An admin teaches the bot from gap messages: ``action`` is add_phrases (to ``intent``
    or a ``new_intent``), draft_article or out_of_scope; ``text`` repeats per message. Back to
    the dashboard (the same filters) with what was done; bad input (unknown action or intent,
    no message, a NUL or control character, too long) changes nothing and answers 400 with
    the dashboard and the error."""
    action = request.POST.get("action", "")
    texts = request.POST.getlist("text")
    back = reverse("analytics:dashboard") + "?" + request.POST.get("query", "")
    shown = request.POST.get("gaps", "")
    if shown.isdigit() and len(shown) < 7 and int(shown) > GAP_PAGE:
        back += f"&gaps={int(shown)}"  # the same groups shown as before
    try:
        if action == "add_phrases":
            done = gap_add_phrases(
                actor=request.user, texts=texts, intent=request.POST.get("intent", ""),
                new_intent=request.POST.get("new_intent", ""),
            )
            messages.success(
                request, f"Added {len(done.texts)} message(s) as training phrases of "
                f"{done.intent}. Train the classifier to use them.",
            )
        elif action == "draft_article":
            done = gap_draft_article(
                actor=request.user, texts=texts, intent=request.POST.get("intent", "")
            )
            messages.success(request, f"Started the draft article \"{done.article.title}\".")
        elif action == "out_of_scope":
            gap_mark_out_of_scope(actor=request.user, texts=texts)
            messages.success(request, f"Marked {len(texts)} message(s) out of scope.")
        else:
            raise ValidationError("Unknown action.")
    except ValidationError as error:
        # The dashboard again (the same filters), answering 400, with what was wrong.
        messages.error(request, "Nothing was changed: " + " ".join(error.messages))
        form = _report_form(request, QueryDict(request.POST.get("query", "")))
        return render(request, "analytics/dashboard.html", _context(request, form), status=400)
    return redirect(back + "#gaps")
