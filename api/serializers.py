"""The API's representations: what each resource shows, and the input the writes accept.

Reads show stored fields only (no customer token hash, no dialog state, no widget secrets).
Writes are validated here and carried out by the owning app's services.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from analytics.models import ReportingEvent
from chat.models import Contact, Conversation, Message
from knowledge.models import Article, ArticleStatus, Intent

TITLE_MAX = 200
BODY_MAX = 200_000
NOTE_MAX = 4000


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)


class ContactSerializer(serializers.ModelSerializer):
    widget = serializers.SlugRelatedField(slug_field="public_key", read_only=True)

    class Meta:
        model = Contact
        fields = ["id", "widget", "name", "email", "external_id", "is_verified", "created_at"]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer):
    widget = serializers.SlugRelatedField(slug_field="public_key", read_only=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    contact = ContactSerializer(read_only=True, allow_null=True)
    labels = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Conversation
        fields = [
            "id", "public_id", "widget", "status", "intent", "sentiment", "assignee",
            "contact", "reply_email", "labels", "handoff_reason", "handoff_category",
            "handed_off_at", "resolution", "resolved_at", "rating", "rating_comment", "language",
            "created_at", "updated_at", "last_seq",
        ]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    sender = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = ["id", "seq", "author", "sender", "text", "created_at"]
        read_only_fields = fields


class ReplyCreateSerializer(serializers.Serializer):
    """An agent's reply, sent to the customer as in the console."""

    text = serializers.CharField(max_length=settings.CHAT_MAX_MESSAGE_CHARS)


class NoteCreateSerializer(serializers.Serializer):
    """A private note: agents see it, the customer never does."""

    text = serializers.CharField(max_length=NOTE_MAX)


class NoteSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    author = UserRefSerializer(read_only=True, allow_null=True)
    text = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class IntentSlugsField(serializers.ListField):
    """Intent slugs: a list of slugs in, an article's intents out as their sorted slugs."""

    def to_representation(self, data: Any) -> list[str]:
        return sorted(intent.slug for intent in data.all())


class ArticleSerializer(serializers.ModelSerializer):
    """An article; on writes ``intents`` are intent slugs that must exist."""

    title = serializers.CharField(max_length=TITLE_MAX)
    body = serializers.CharField(max_length=BODY_MAX, trim_whitespace=False)
    status = serializers.ChoiceField(choices=ArticleStatus.choices, default=ArticleStatus.DRAFT)
    intents = IntentSlugsField(
        child=serializers.SlugField(max_length=80), required=False, max_length=500,
        help_text="Slugs of the intents this article answers.",
    )

    class Meta:
        model = Article
        fields = ["id", "title", "body", "status", "intents", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_intents(self, slugs: list[str]) -> list[Intent]:
        intents = list(Intent.objects.filter(slug__in=set(slugs)))
        missing = sorted(set(slugs) - {intent.slug for intent in intents})
        if missing:
            raise serializers.ValidationError(f"No such intent: {', '.join(missing)}.")
        return intents


class ReportingEventSerializer(serializers.ModelSerializer):
    conversation = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    agent = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    widget = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = ReportingEvent
        fields = [
            "id", "name", "occurred_at", "conversation", "conversation_started_at", "widget",
            "intent", "category", "backend", "value", "agent",
        ]
        read_only_fields = fields
