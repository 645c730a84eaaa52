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
from .forms import (
    ArticleSearchForm,
    AssignForm,
    CannedResponseForm,
    ListFilterForm,
    NoteForm,
    PresenceForm,
    ProfileForm,
    ReplyForm,
)
from .services import (
    agent_profile_set,
    can_manage_canned,
    can_manage_shared_canned,
    canned_delete,
    canned_save,
    conversation_labels_set,
    note_create,
    presence_set_status,
)

TEMPLATE = "chat/console/index.html"
# Fragments a request may ask for by its HX-Target; anything else gets the whole pane.
CONVERSATION_FRAGMENTS = {"transcript", "conversation-head", "conversation", "contact-panel"}


def _list_filters(request: HttpRequest) -> selectors.ListFilters:
    return selectors.ListFilters(**ListFilterForm(request.GET).filters())


def _list_context(request: HttpRequest, conversation: Conversation | None = None) -> dict[str, Any]:
    filters = _list_filters(request)
    params = request.GET.copy()
    params.pop("tab", None)
    return {
        "queue": selectors.conversation_list_for_agent(agent=request.user, filters=filters),
        "filters": filters,
        "filter_query": params.urlencode(),
        "tabs": selectors.tabs_for_agent(agent=request.user),
        "bot_down": bot_down(),
        "current_pk": conversation.pk if conversation else None,
    }


def _page_context(request: HttpRequest, conversation: Conversation | None) -> dict[str, Any]:
    return {
        **_list_context(request, conversation),
        "choices": selectors.list_filter_choices(),
        # The console refreshes its queue once more this long after an update (console.js):
        # the server sends at most one update per conversation per CONSOLE_QUEUE_UPDATE_SECONDS.
        "queue_settle_ms": int(settings.CONSOLE_QUEUE_UPDATE_SECONDS * 1000) + 250,
        "presence": selectors.presence_for_agent(agent=request.user),
        **(_conversation_context(request, conversation) if conversation else {}),
    }


def _conversation_context(
    request: HttpRequest, conversation: Conversation, *, form: ReplyForm | None = None,
    error: str = "", note_form: NoteForm | None = None,
) -> dict[str, Any]:
    is_mine = (
        conversation.status == ConversationStatus.AGENT
        and conversation.assignee_id == request.user.pk
    )
    transcript = selectors.transcript_for_agent(conversation=conversation)
    is_open = conversation.status not in (ConversationStatus.RESOLVED, ConversationStatus.ABANDONED)
    return {
        "conversation": conversation,
        "transcript": selectors.transcript_with_notes(
            conversation=conversation, messages=transcript
        ),
        "summary": selectors.handoff_summary_for_agent(
            conversation=conversation, transcript=transcript
        ),
        "contact": selectors.contact_panel_for_agent(conversation=conversation),
        "conversation_labels": list(conversation.labels.all()),
        "all_labels": selectors.label_list(),
        "assignable": selectors.agents_for_assignment(exclude=conversation.assignee)
        if is_open else [],
        "is_mine": is_mine,
        "is_open": is_open,
        "can_claim": conversation.status in (ConversationStatus.WAITING, ConversationStatus.BOT),
        "reply_form": form or ReplyForm(),
        "note_form": note_form or NoteForm(),
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
        return render(request, f"{TEMPLATE}#queue", _list_context(request))
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
    form: ReplyForm | None = None, note_form: NoteForm | None = None,
) -> HttpResponse:
    """The conversation pane again (htmx), or a redirect back to it (a plain form post)."""
    if request.htmx:
        conversation.refresh_from_db()
        context = _conversation_context(
            request, conversation, form=form, error=error, note_form=note_form
        )
        return render(request, f"{TEMPLATE}#conversation", context, status=400 if error else 200)
    if error:
        conversation.refresh_from_db()
        context = _page_context(request, conversation)
        context.update(
            _conversation_context(
                request, conversation, form=form, error=error, note_form=note_form
            )
        )
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
    """Articles ranked for the open conversation (``conversation``) or the typed ``q``, each
    with its best passage as readable text."""
    form = ArticleSearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    conversation = _optional_conversation(request)
    articles = (
        selectors.article_suggestions_for_agent(query=query, conversation=conversation)
        if query or conversation
        else []
    )
    context = {"articles": articles, "query": query}
    return render(request, f"{TEMPLATE}#articles", context)


def _optional_conversation(request: HttpRequest) -> Conversation | None:
    raw = request.GET.get("conversation", "")
    return selectors.conversation_for_agent(pk=int(raw)) if raw.isdigit() else None


@role_required(AGENTS)
@require_GET
def canned_search(request: HttpRequest) -> HttpResponse:
    """The ``/`` picker: canned responses for ``q`` with the open conversation's variables."""
    query = request.GET.get("q", "")[:60]
    responses = selectors.canned_for_agent(
        query=query, conversation=_optional_conversation(request), agent=request.user
    )
    return render(request, f"{TEMPLATE}#canned", {"canned": responses, "query": query})


@role_required(AGENTS)
@require_POST
def conversation_note(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _load(pk)
    form = NoteForm(request.POST)
    if not form.is_valid():
        return _after_action(
            request, conversation, error=" ".join(form.errors["text"]), note_form=form
        )
    try:
        note_create(conversation=conversation, agent=request.user, text=form.cleaned_data["text"])
    except ValueError as exc:
        return _after_action(request, conversation, error=_error_text(exc), note_form=form)
    return _after_action(request, conversation)


@role_required(AGENTS)
@require_POST
def conversation_assign(request: HttpRequest, pk: int) -> HttpResponse:
    """Assign or transfer to the agent ``to``; with ``to`` empty, unassign."""
    conversation = _load(pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        return _after_action(request, conversation, error="Choose an agent.")
    to_pk = form.cleaned_data["to"]
    try:
        if to_pk is None:
            services.conversation_unassign(conversation=conversation, agent=request.user)
        else:
            to = next(
                (a for a in selectors.agents_for_assignment() if a.pk == to_pk), None
            )
            if to is None:
                return _after_action(request, conversation, error="No such agent.")
            services.conversation_assign(conversation=conversation, agent=request.user, to=to)
    except (ValidationError, ValueError) as exc:
        return _after_action(request, conversation, error=_error_text(exc))
    return _after_action(request, conversation)


@role_required(AGENTS)
@require_POST
def conversation_labels(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _load(pk)
    raw = request.POST.getlist("labels")
    if not all(value.isdigit() for value in raw):
        return _after_action(request, conversation, error="Labels are chosen from the list.")
    try:
        conversation_labels_set(conversation=conversation, label_ids=[int(v) for v in raw])
    except ValueError as exc:
        return _after_action(request, conversation, error=_error_text(exc))
    return _after_action(request, conversation)


@role_required(AGENTS)
def profile(request: HttpRequest) -> HttpResponse:
    """The agent's display name and initials: what customers see on their replies."""
    current = selectors.profile_for_agent(agent=request.user)
    form = ProfileForm(
        request.POST or None,
        initial={"display_name": current.display_name, "initials": current.initials}
        if current else None,
    )
    saved = False
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                current = agent_profile_set(agent=request.user, **form.cleaned_data)
                saved = True
            except ValueError as exc:
                form.add_error("display_name", str(exc))
        if not saved:
            status = 400
    return render(
        request, "chat/console/profile.html",
        {"form": form, "profile": current, "saved": saved}, status=status,
    )


@role_required(AGENTS)
def canned_manage(request: HttpRequest) -> HttpResponse:
    """Each agent keeps personal canned responses; admins also manage the shared ones (here and
    in the Django admin). Deleting or saving what one may not manage is refused (403)."""
    can_share = can_manage_shared_canned(request.user)
    form = CannedResponseForm(request.POST or None, can_share=can_share)
    status = 200
    if request.method == "POST":
        if "delete" in request.POST:
            raw = request.POST["delete"]
            if not raw.isdigit():
                return HttpResponse("Choose a canned response to delete.", status=400)
            if not canned_delete(agent=request.user, pk=int(raw)):
                raise Http404("No such canned response.")
            return redirect("chat:console-canned-manage")
        if form.is_valid():
            try:
                canned_save(agent=request.user, **form.cleaned_data)
                return redirect("chat:console-canned-manage")
            except ValueError as exc:
                form.add_error("shortcut", str(exc))
        status = 400
    responses = selectors.canned_for_agent(
        query="", conversation=None, agent=request.user, limit=200
    )
    for item in responses:
        item["can_manage"] = can_manage_canned(request.user, item["response"])
    return render(
        request, "chat/console/canned.html",
        {"form": form, "responses": responses, "can_share": can_share}, status=status,
    )


@role_required(AGENTS)
@require_GET
def label_css(request: HttpRequest) -> HttpResponse:
    """Each label's colour as a class (``.label-<id>``): the console's CSP allows no inline
    style, so the admin-chosen colours come as a stylesheet."""
    response = render(
        request, "chat/console/labels.css", {"labels": selectors.label_list()},
        content_type="text/css; charset=utf-8",
    )
    response["Cache-Control"] = "private, max-age=60"
    return response
