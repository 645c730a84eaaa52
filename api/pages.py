"""The API tokens page (``/api/tokens/``): every staff user makes, sees and revokes their own
tokens there. A new token is shown once, on the page the form that made it redirects to
(``accounts.shown_once``): a reload makes no second token and shows the first no more."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import shown_once
from accounts.roles import ROLES, role_required

from . import selectors, services
from .models import ApiToken

TEMPLATE = "api/tokens.html"


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=services.TOKEN_NAME_MAX,
        help_text="What will use it, e.g. \"CRM sync\". Yours to tell your tokens apart.",
        error_messages={"required": "Give the token a name."},
    )


@role_required(*ROLES)
def tokens(request: HttpRequest) -> HttpResponse:
    """Lists the user's tokens; a valid POST makes one and redirects here, where it is shown
    once."""
    form = TokenForm(request.POST or None)
    created: str = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                _, raw = services.token_create(user=request.user, name=form.cleaned_data["name"])
            except ValueError as exc:
                form.add_error("name", str(exc))
            else:
                shown_once.keep(request, "api-token", "new", raw)
                return redirect("api:tokens")
        status = 400
    else:
        created = shown_once.take(request, "api-token", "new")
    response = render(
        request, TEMPLATE,
        {"form": form, "created": created, "tokens": selectors.tokens_for_user(user=request.user)},
        status=status,
    )
    # The page may hold a token shown once: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


@role_required(*ROLES)
@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm (the token's name, what stops working); POST revokes one of the
    user's own tokens. Another user's token, or none, is a 404 either way."""
    if request.method == "GET":
        token = ApiToken.objects.filter(pk=pk, user=request.user).first()
        if token is None:
            raise Http404("No such token.")
        if not token.is_active:
            return redirect("api:tokens")
        return render(request, "api/token_revoke.html", {"token": token})
    try:
        token = services.token_revoke(user=request.user, token_id=pk)
    except ApiToken.DoesNotExist:
        raise Http404("No such token.") from None
    messages.success(request, f'Token "{token.name}" revoked: it answers 401 from now on.')
    return redirect("api:tokens")
