from __future__ import annotations

from typing import Any

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


class ListFilterForm(forms.Form):
    """The conversation list's tab and filters (GET); a bad value is dropped, not an error."""

    tab = forms.ChoiceField(
        required=False, choices=[(t, t) for t in ("waiting", "mine", "open", "resolved")]
    )
    intent = forms.CharField(max_length=80, required=False, strip=True)
    label = forms.IntegerField(required=False, min_value=1)
    agent = forms.IntegerField(required=False, min_value=1)
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)
    q = forms.CharField(max_length=200, required=False, strip=True)

    def filters(self) -> dict:
        """The valid fields' values (``ListFilters`` keyword arguments)."""
        self.is_valid()
        data = {
            name: self.cleaned_data.get(name) for name in self.fields if name not in self.errors
        }
        data["tab"] = data.get("tab") or "waiting"
        return {k: v for k, v in data.items() if v not in (None, "")}


class NoteForm(forms.Form):
    text = forms.CharField(
        max_length=4000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2, "data-sd": "note-input"}),
        error_messages={"required": "Write a note first."},
    )


class AssignForm(forms.Form):
    to = forms.IntegerField(required=False, min_value=1)


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        max_length=60, strip=True, widget=forms.TextInput(attrs={"data-sd": "display-name"}),
        help_text="Customers see this name on your replies, never your user name.",
    )
    initials = forms.CharField(
        max_length=3, required=False, strip=True,
        help_text="For your avatar; left empty, taken from the name.",
    )


class CannedResponseForm(forms.Form):
    shortcut = forms.SlugField(max_length=40)
    title = forms.CharField(max_length=120)
    text = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))
    shared = forms.BooleanField(
        required=False, label="Shared with every agent",
        help_text="Admins only. Otherwise the response is yours alone.",
    )

    def __init__(self, *args: Any, can_share: bool = False, **kwargs: Any) -> None:
        """``can_share``: whether the user may save shared responses (admins); the field is
        left out for everyone else."""
        super().__init__(*args, **kwargs)
        if not can_share:
            del self.fields["shared"]

    def clean_text(self) -> str:
        """The text, refused when it holds a placeholder that is not a known variable (the
        customer would read it as written)."""
        from chat.console.selectors import CANNED_VARIABLES, unknown_canned_variables

        text = self.cleaned_data["text"]
        unknown = unknown_canned_variables(text)
        if unknown:
            known = ", ".join("{{ " + name + " }}" for name in CANNED_VARIABLES)
            raise forms.ValidationError(
                f"Unknown variable {', '.join(unknown)}: the variables are {known}."
            )
        return text
