from __future__ import annotations

from django import forms
from django.conf import settings

from chat.models import PresenceStatus


class ReplyForm(forms.Form):
    text = forms.CharField(
        max_length=settings.CHAT_MAX_MESSAGE_CHARS,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "data-sd": "reply-text"}),
        error_messages={"required": "Write a reply first."},
    )


class PresenceForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(PresenceStatus.ONLINE, "Online"), (PresenceStatus.AWAY, "Away")]
    )


class ArticleSearchForm(forms.Form):
    q = forms.CharField(max_length=200, required=False, strip=True)
