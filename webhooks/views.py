"""The webhooks admin (admins only): thin views that parse, call one service, and render.

The signing secret appears once, on the page the POST that creates the endpoint redirects to
(``accounts.shown_once``); a reload of that page, and every later page, shows it no more.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import shown_once
from accounts.roles import area_required
from knowledge.views import confirm_delete_page

from . import selectors, services
from .forms import EndpointForm
from .models import Delivery, Endpoint

DELIVERIES_PER_PAGE = 50


def _save(form: EndpointForm, save) -> object | None:
    """Runs ``save`` with the form's values; a refused field is put on the form."""
    try:
        return save(url=form.cleaned_data["url"], events=form.cleaned_data["events"],
                    description=form.cleaned_data["description"])
    except services.EndpointInvalid as exc:
        form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        return None


@area_required("knowledge")
@require_GET
def endpoint_list(request: HttpRequest) -> HttpResponse:
    return render(request, "webhooks/endpoint_list.html",
                  {"endpoints": selectors.endpoint_list()})


@area_required("knowledge")
@never_cache
@require_http_methods(["GET", "POST"])
def endpoint_create(request: HttpRequest) -> HttpResponse:
    """Registers an endpoint, then redirects to the page that shows its secret, once (a
    reload of the form's answer never registers a second endpoint)."""
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = _save(form, lambda **values: services.endpoint_create(
            actor=request.user, **values))
        if created is not None:
            endpoint, secret = created
            shown_once.keep(request, "webhook-secret", endpoint.pk, secret)
            return redirect("webhooks:endpoint_created", pk=endpoint.pk)
    return render(request, "webhooks/endpoint_form.html", {"form": form, "endpoint": None},
                  status=400 if form.errors else 200)


@area_required("knowledge")
@never_cache
@require_GET
def endpoint_created(request: HttpRequest, pk: int) -> HttpResponse:
    """The endpoint just registered and its secret, this once; a second visit says the secret
    was shown already."""
    endpoint = get_object_or_404(Endpoint, pk=pk)
    # never_cache's no-store: the page may hold the secret.
    return render(request, "webhooks/endpoint_created.html", {
        "endpoint": endpoint, "secret": shown_once.take(request, "webhook-secret", pk),
    })


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=pk)
    initial = {"url": endpoint.url, "description": endpoint.description,
               "events": endpoint.events}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = _save(form, lambda **values: services.endpoint_update(
            actor=request.user, endpoint=endpoint, **values))
        if saved is not None:
            messages.success(request, "Endpoint saved.")
            return redirect("webhooks:endpoint_edit", pk=endpoint.pk)
    return render(request, "webhooks/endpoint_form.html", {"form": form, "endpoint": endpoint},
                  status=400 if form.errors else 200)


@area_required("knowledge")
@require_POST
def endpoint_enable(request: HttpRequest, pk: int) -> HttpResponse:
    """Enables (``enabled=1``) or disables (``enabled=0``) an endpoint."""
    endpoint = get_object_or_404(Endpoint, pk=pk)
    enabled = request.POST.get("enabled")
    if enabled not in ("0", "1"):
        messages.error(request, "Choose to enable or to disable the endpoint.")
        return redirect("webhooks:endpoint_edit", pk=pk)
    services.endpoint_set_enabled(actor=request.user, endpoint=endpoint, enabled=enabled == "1")
    messages.success(request, "Endpoint enabled." if enabled == "1" else "Endpoint disabled.")
    return redirect("webhooks:endpoint_edit", pk=pk)


@area_required("knowledge")
@require_http_methods(["GET", "POST"])
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm (what the deletion stops); POST deletes and audits it."""
    endpoint = get_object_or_404(Endpoint, pk=pk)
    if request.method == "GET":
        return confirm_delete_page(
            request, what="endpoint", name=endpoint.url,
            consequence="Events stop going to this address, and its undelivered events and "
                        "its delivery log are removed with it.",
            cancel_url=reverse("webhooks:endpoint_edit", args=[endpoint.pk]),
        )
    services.endpoint_delete(actor=request.user, endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted.")
    return redirect("webhooks:endpoint_list")


@area_required("knowledge")
@require_GET
def delivery_list(request: HttpRequest, pk: int) -> HttpResponse:
    """The endpoint's deliveries, newest first, each with its attempts (the delivery log),
    and which undelivered event the others wait for (deliveries go in event order). A row
    offers one action: "Try now" on that undelivered event, "Send again" on another row that
    was sent; none on a row never sent."""
    with selectors.one_snapshot():  # statuses and attempt logs of the same moment
        endpoint = get_object_or_404(Endpoint, pk=pk)
        page = Paginator(
            selectors.deliveries_for_endpoint(endpoint), DELIVERIES_PER_PAGE
        ).get_page(request.GET.get("page"))
        deliveries = list(page.object_list)
        attempts: dict[int, list] = {}
        for attempt in selectors.attempts_for(deliveries):
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
        head = selectors.delivery_head(endpoint)
        waiting = selectors.deliveries_waiting_behind(head) if head is not None else 0
    rows = [
        {"delivery": d, "attempts": attempts.get(d.pk, []), "is_head": head is not None
         and d.pk == head.pk, "waits_for": head if head and d.event_id > head.event_id else None}
        for d in deliveries
    ]
    return render(request, "webhooks/delivery_list.html", {
        "endpoint": endpoint, "page": page, "rows": rows, "query": "", "head": head,
        "head_due": head is not None and head.next_attempt_at <= timezone.now(),
        # Its row offers "Try now"; the notice offers it only when the row is on another page.
        "head_on_page": any(row["is_head"] for row in rows),
        "waiting": waiting,
    })


def _when(moment: datetime) -> str:
    return dateformat.format(timezone.localtime(moment), "Y-m-d H:i:s")


@area_required("knowledge")
@require_POST
def delivery_resend(request: HttpRequest, pk: int) -> HttpResponse:
    """"Send again": the same event owed once more, queued now; the message says when it
    will really go (at once, after an older undelivered event, or once the endpoint is
    enabled again)."""
    delivery = get_object_or_404(Delivery.objects.select_related("event", "endpoint"), pk=pk)
    services.delivery_resend(actor=request.user, delivery=delivery)
    event_id, endpoint = delivery.event.public_id, delivery.endpoint
    head = selectors.delivery_head(endpoint)
    if not endpoint.is_enabled:
        messages.warning(request, f"{event_id} will be sent again once this endpoint is "
                                  "enabled: a disabled endpoint is sent nothing.")
    elif head is not None and head.event_id < delivery.event_id:
        older = head.event.public_id
        if head.next_attempt_at > timezone.now():
            when = (f"{older}'s next try is at {_when(head.next_attempt_at)}; "
                    f'"Try now" on {older} tries it at once.')
        else:
            when = f"{older} is due now."
        messages.warning(request, f"{event_id} is queued but not sent yet: it waits for "
                                  f"{older}, an older event this endpoint has not received "
                                  f"(events go in order). {when}")
    else:
        messages.success(request, f"{event_id} is being sent again now; reload the page to "
                                  "see the attempt.")
    return redirect("webhooks:delivery_list", pk=delivery.endpoint_id)
