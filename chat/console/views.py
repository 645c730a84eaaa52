"""The agent console: thin doors that authorise, call one selector or service, and render.

One template serves the page and its fragments: with ``request.htmx`` a view renders only
the fragment the request targets (``index.html#queue``, ``#conversation``, ``#transcript``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import AGENTS, role_required
from chat import services
from chat.liveness import bot_down
from chat.models import Conversation, ConversationStatus, Resolution

from . import selectors
from .forms import ArticleSearchForm, PresenceForm, ReplyForm
from .services import presence_set_status

TEMPLATE = "chat/console/index.html"
# Fragments a request may ask for by its HX-Target; anything else gets the whole pane.
CONVERSATION_FRAGMENTS = {"transcript", "conversation-head", "conversation"}


def _page_context(request: HttpRequest, conversation: Conversation | None) -> dict[str, Any]:
    return {
        "queue": selectors.queue_for_agent(agent=request.user),
        "bot_down": bot_down(),
        # The console refreshes its queue once more this long after an update (console.js):
        # the server sends at most one update per conversation per CONSOLE_QUEUE_UPDATE_SECONDS.
        "queue_settle_ms": int(settings.CONSOLE_QUEUE_UPDATE_SECONDS * 1000) + 250,
        "presence": selectors.presence_for_agent(agent=request.user),
        **(_conversation_context(request, conversation) if conversation else {}),
    }


def _conversation_context(
    request: HttpRequest, conversation: Conversation, *, form: ReplyForm | None = None,
    error: str = "",
) -> dict[str, Any]:
    is_mine = (
        conversation.status == ConversationStatus.AGENT
        and conversation.assignee_id == request.user.pk
    )
    return {
        "conversation": conversation,
        "transcript": selectors.transcript_for_agent(conversation=conversation),
        "is_mine": is_mine,
        "can_claim": conversation.status in (ConversationStatus.WAITING, ConversationStatus.BOT),
        "reply_form": form or ReplyForm(),
        "error": error,
    }


def _load(pk: int) -> Conversation:
    conversation = selectors.conversation_for_agent(pk=pk)
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


@role_required(AGENTS)
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    if request.htmx:
        return render(request, f"{TEMPLATE}#queue", _page_context(request, None))
    return render(request, TEMPLATE, _page_context(request, None))


@role_required(AGENTS)
@require_GET
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _load(pk)
    if request.htmx:
        target = request.htmx.target if request.htmx.target in CONVERSATION_FRAGMENTS else (
            "conversation"
        )
        context = _conversation_context(request, conversation)
        return render(request, f"{TEMPLATE}#{target.replace('-', '_')}", context)
    return render(request, TEMPLATE, _page_context(request, conversation))


def _after_action(
    request: HttpRequest, conversation: Conversation, *, error: str = "",
    form: ReplyForm | None = None,
) -> HttpResponse:
    """The conversation pane again (htmx), or a redirect back to it (a plain form post)."""
    if request.htmx:
        conversation.refresh_from_db()
        context = _conversation_context(request, conversation, form=form, error=error)
        return render(request, f"{TEMPLATE}#conversation", context, status=400 if error else 200)
    if error:
        conversation.refresh_from_db()
        context = _page_context(request, conversation)
        context.update(_conversation_context(request, conversation, form=form, error=error))
        return render(request, TEMPLATE, context, status=400)
    return redirect("chat:console-conversation", pk=conversation.pk)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "That did not work."


@role_required(AGENTS)
@require_POST
def conversation_claim(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _load(pk)
    try:
        services.conversation_claim(conversation=conversation, agent=request.user)
    except (ValidationError, ValueError) as exc:
        return _after_action(request, conversation, error=_error_text(exc))
    return _after_action(request, conversation)


def _check_mine(request: HttpRequest, conversation: Conversation) -> str:
    if conversation.status != ConversationStatus.AGENT or (
        conversation.assignee_id != request.user.pk
    ):
        return "Claim the conversation first: only its agent can do that."
    return ""


@role_required(AGENTS)
@require_POST
def conversation_send(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _load(pk)
    form = ReplyForm(request.POST)
    if error := _check_mine(request, conversation):
        return _after_action(request, conversation, error=error, form=form)
    if not form.is_valid():
        error = " ".join(form.errors["text"])
        return _after_action(request, conversation, error=error, form=form)
    try:
        services.agent_message_create(
            conversation=conversation, agent=request.user, text=form.cleaned_data["text"]
        )
    except (ValidationError, ValueError) as exc:
        return _after_action(request, conversation, error=_error_text(exc), form=form)
    return _after_action(request, conversation)


@role_required(AGENTS)
@require_POST
def conversation_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _load(pk)
    if error := _check_mine(request, conversation):
        return _after_action(request, conversation, error=error)
    try:
        services.conversation_resolve(
            conversation=conversation, resolution=Resolution.AGENT, agent=request.user
        )
    except (ValidationError, ValueError) as exc:
        return _after_action(request, conversation, error=_error_text(exc))
    return _after_action(request, conversation)


@role_required(AGENTS)
@require_POST
def conversation_return_to_bot(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _load(pk)
    if error := _check_mine(request, conversation):
        return _after_action(request, conversation, error=error)
    try:
        services.conversation_return_to_bot(conversation=conversation, agent=request.user)
    except (ValidationError, ValueError) as exc:
        return _after_action(request, conversation, error=_error_text(exc))
    return _after_action(request, conversation)


@role_required(AGENTS)
@require_POST
def presence(request: HttpRequest) -> HttpResponse:
    form = PresenceForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Choose online or away.", status=400)
    presence_set_status(agent=request.user, status=form.cleaned_data["status"])
    if request.htmx:
        context = {"presence": selectors.presence_for_agent(agent=request.user)}
        return render(request, f"{TEMPLATE}#presence", context)
    return redirect("chat:console")


@role_required(AGENTS)
@require_GET
def article_search(request: HttpRequest) -> HttpResponse:
    form = ArticleSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    articles = [
        {"article": article, "text": selectors.article_plain_text(article)}
        for article in (selectors.article_search(query=query) if query else [])
    ]
    context = {"articles": articles, "query": query}
    return render(request, f"{TEMPLATE}#articles", context)
