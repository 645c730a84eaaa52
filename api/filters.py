"""Query filters of the lists (django-filter): an unknown value, a malformed date or an
empty range is a 400 naming the parameter, never an empty list that hides the mistake."""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import get_user_model

from accounts.roles import AGENTS
from analytics.models import EventName, ReportingEvent
from chat.models import Contact, Conversation, ConversationStatus, Label
from knowledge.models import Article, ArticleStatus


class _RangeForm(forms.Form):
    """Refuses a range whose start is not before its end."""

    range_fields: tuple[str, str] = ("", "")

    def clean(self) -> dict:
        data = super().clean()
        start, end = (data.get(name) for name in self.range_fields)
        if start is not None and end is not None and start >= end:
            raise forms.ValidationError(
                {self.range_fields[1]: f"Must be after {self.range_fields[0]}."}
            )
        return data


class _ConversationRangeForm(_RangeForm):
    range_fields = ("created_after", "created_before")


class _EventRangeForm(_RangeForm):
    range_fields = ("occurred_after", "occurred_before")


class IdFilter(django_filters.Filter):
    """A row id: a whole number from 1 to the largest a database id holds."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, min_value=1, max_value=2**63 - 1, **kwargs)


class ConversationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ConversationStatus.choices)
    intent = django_filters.CharFilter(max_length=80, help_text="An intent slug.")
    label = django_filters.ModelChoiceFilter(
        field_name="labels", to_field_name="name", queryset=Label.objects.all(),
        help_text="A label's name.",
    )
    agent = django_filters.ModelChoiceFilter(
        field_name="assignee", queryset=get_user_model().objects.filter(groups__name=AGENTS),
        help_text="The assigned agent's user id.",
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="ISO 8601; inclusive."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="ISO 8601; exclusive."
    )

    class Meta:
        model = Conversation
        fields = ["status", "intent", "label", "agent", "created_after", "created_before"]
        form = _ConversationRangeForm


class ContactFilter(django_filters.FilterSet):
    email = django_filters.CharFilter(lookup_expr="iexact", max_length=254)
    external_id = django_filters.CharFilter(max_length=200)

    class Meta:
        model = Contact
        fields = ["email", "external_id"]


class ArticleFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ArticleStatus.choices)
    intent = django_filters.CharFilter(
        field_name="intents__slug", max_length=80, help_text="An intent slug."
    )

    class Meta:
        model = Article
        fields = ["status", "intent"]


class ReportingEventFilter(django_filters.FilterSet):
    name = django_filters.ChoiceFilter(choices=EventName.choices)
    intent = django_filters.CharFilter(max_length=80)
    conversation = IdFilter(field_name="conversation_id", help_text="A conversation's id.")
    occurred_after = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", help_text="ISO 8601; inclusive."
    )
    occurred_before = django_filters.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="lt", help_text="ISO 8601; exclusive."
    )

    class Meta:
        model = ReportingEvent
        fields = ["name", "intent", "conversation", "occurred_after", "occurred_before"]
        form = _EventRangeForm
