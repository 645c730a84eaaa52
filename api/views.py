"""The REST API's doors (``/api/v1/``): each authorises by role, validates, then calls one
selector or one service of the app that owns the data, and serialises the result.

Every error is JSON (``api.errors``): 401 without a valid token, 403 for another role's data,
400 for bad input or filters, 404, 409 when the conversation is not the caller's, 429 over
the request budget.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from chat import services as chat_services
from chat.console import selectors as console_selectors
from chat.console.services import note_create
from chat.models import Conversation, ConversationStatus, Message
from knowledge import services as knowledge_services
from knowledge.models import Article

from . import selectors
from .filters import ArticleFilter, ContactFilter, ConversationFilter, ReportingEventFilter
from .pagination import paginated
from .permissions import AnalyticsArea, ArticlesAccess, ConsoleArea
from .serializers import (
    ArticleSerializer,
    ContactSerializer,
    ConversationSerializer,
    MessageSerializer,
    NoteCreateSerializer,
    NoteSerializer,
    ReplyCreateSerializer,
    ReportingEventSerializer,
)

ID_PATTERN = r"[0-9]{1,18}"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The conversation is not in a state that allows this."
    default_code = "conflict"


def _bad_input(exc: Exception) -> exceptions.ValidationError:
    """A service's refusal (Django ``ValidationError`` or ``ValueError``) as a 400."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError(exc.messages)
    return exceptions.ValidationError([str(exc) or "Bad input."])


@extend_schema_view(
    list=extend_schema(summary="Conversations, newest first, filtered"),
    retrieve=extend_schema(summary="One conversation"),
)
class ConversationViewSet(viewsets.ReadOnlyModelViewSet):
    """Conversations (agents only, as in the console)."""

    permission_classes = [ConsoleArea]
    serializer_class = ConversationSerializer
    filterset_class = ConversationFilter
    pagination_class = paginated("-id")
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> Any:
        return selectors.conversations_for_api()


def _conversation(pk: Any) -> Conversation:
    conversation = console_selectors.conversation_for_agent(pk=int(pk))
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


class ConversationMessagesView(generics.ListCreateAPIView):
    """A conversation's messages in order; POST adds the calling agent's reply."""

    permission_classes = [ConsoleArea]
    pagination_class = paginated("seq")

    def get_serializer_class(self) -> Any:
        return ReplyCreateSerializer if self.request.method == "POST" else MessageSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema pass
            return Message.objects.none()
        return selectors.messages_for_api(conversation=_conversation(self.kwargs["pk"]))

    @extend_schema(
        summary="Reply to the customer",
        request=ReplyCreateSerializer,
        responses={
            201: MessageSerializer,
            400: OpenApiResponse(description="Empty or too long."),
            409: OpenApiResponse(description="The conversation is not the caller's: claim it "
                                 "in the console first."),
        },
    )
    def post(self, request: Request, pk: str) -> Response:
        conversation = _conversation(pk)
        serializer = ReplyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if conversation.status != ConversationStatus.AGENT or (
            conversation.assignee_id != request.user.pk
        ):
            raise Conflict("Only the conversation's agent can reply: claim it first.")
        try:
            message = chat_services.agent_message_create(
                conversation=conversation, agent=request.user,
                text=serializer.validated_data["text"],
            )
        except (DjangoValidationError, ValueError) as exc:
            raise _bad_input(exc) from None
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class ConversationNotesView(generics.GenericAPIView):
    """A private note on a conversation (agents see it; the customer never does)."""

    permission_classes = [ConsoleArea]
    serializer_class = NoteCreateSerializer

    @extend_schema(summary="Add a private note", responses={201: NoteSerializer})
    def post(self, request: Request, pk: str) -> Response:
        conversation = _conversation(pk)
        serializer = NoteCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            note = note_create(
                conversation=conversation, agent=request.user,
                text=serializer.validated_data["text"],
            )
        except (DjangoValidationError, ValueError) as exc:
            raise _bad_input(exc) from None
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


class ContactViewSet(viewsets.ReadOnlyModelViewSet):
    """Contacts: the customers who left a name or e-mail address (agents only)."""

    permission_classes = [ConsoleArea]
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    pagination_class = paginated("-id")
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> Any:
        return selectors.contacts_for_api()


class ArticleViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Knowledge-base articles: agents read the published ones, admins read all and write
    through the knowledge services (a version and an audit entry per change)."""

    permission_classes = [ArticlesAccess]
    serializer_class = ArticleSerializer
    filterset_class = ArticleFilter
    pagination_class = paginated("id")
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> Any:
        return selectors.articles_for_user(user=self.request.user)

    def perform_create(self, serializer: ArticleSerializer) -> None:
        try:
            serializer.instance = knowledge_services.article_create(
                actor=self.request.user, **serializer.validated_data
            )
        except (DjangoValidationError, ValueError) as exc:
            raise _bad_input(exc) from None

    def perform_update(self, serializer: ArticleSerializer) -> None:
        article: Article = serializer.instance
        values = {
            "title": article.title,
            "body": article.body,
            "status": article.status,
            "intents": list(article.intents.all()),
            **serializer.validated_data,
        }
        try:
            serializer.instance = knowledge_services.article_update(
                actor=self.request.user, article=article, **values
            )
        except (DjangoValidationError, ValueError) as exc:
            raise _bad_input(exc) from None


class ReportingEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Reporting events, one per measured fact, in the order they were recorded (managers
    and admins, as on the analytics dashboard)."""

    permission_classes = [AnalyticsArea]
    serializer_class = ReportingEventSerializer
    filterset_class = ReportingEventFilter
    pagination_class = paginated("id")
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> Any:
        return selectors.events_for_api()
