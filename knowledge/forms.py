"""Forms check the shape of what an admin typed; the services check the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from knowledge.safejson import UnsafeJSON, loads_checked

from . import connector_library
from .bot import bot_registered
from .connectors import ConnectorInvalid, check_headers
from .importexport import (
    BUTTON_LABEL_MAX,
    DETAIL_QUESTION_MAX,
    NAME_MAX,
    PHRASE_MAX,
    SIGNAL_MAX,
    SLUG_MAX,
    TITLE_MAX,
)
from .models import ArticleStatus, EscalationPolicy, Intent, SignalCategory

MAX_HISTORY_TURNS = 20


class IntentForm(forms.Form):
    slug = forms.SlugField(max_length=SLUG_MAX, help_text="Lower case, digits, - and _.")
    name = forms.CharField(max_length=NAME_MAX)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
        help_text="What the intent covers; the Claude backend reads this to classify.",
    )
    escalation_policy = forms.ChoiceField(choices=EscalationPolicy.choices)
    button_label = forms.CharField(
        max_length=BUTTON_LABEL_MAX,
        required=False,
        label="Quick-reply button",
        help_text="A topic button the widget's greeting offers, e.g. \"Track my order\" "
        "(empty for none). Label three to five intents; the widget shows at most five.",
    )
    required_details = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
        help_text="One per line: name | the question the bot asks, "
        "e.g. order_number | What is your order number?",
    )

    def clean_required_details(self) -> list[dict[str, str]]:
        details = []
        for number, line in enumerate(self.cleaned_data["required_details"].splitlines(), 1):
            if not line.strip():
                continue
            name, sep, question = line.partition("|")
            name, question = name.strip(), " ".join(question.split())
            if not sep or not name or not question:
                raise forms.ValidationError(
                    f"Line {number}: write it as name | question."
                )
            if len(question) > DETAIL_QUESTION_MAX:
                raise forms.ValidationError(f"Line {number}: the question is too long.")
            details.append({"name": name, "question": question})
        return details

    @staticmethod
    def details_text(details: list[dict[str, str]]) -> str:
        return "\n".join(f"{d.get('name', '')} | {d.get('question', '')}" for d in details or [])


class PhraseForm(forms.Form):
    text = forms.CharField(max_length=PHRASE_MAX, strip=True)


class SignalForm(forms.Form):
    phrase = forms.CharField(max_length=SIGNAL_MAX, strip=True)
    category = forms.ChoiceField(choices=SignalCategory.choices)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")


class SignalPreviewForm(forms.Form):
    phrase = forms.CharField(max_length=SIGNAL_MAX, required=False)
    category = forms.ChoiceField(choices=SignalCategory.choices, required=False)


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 16}), max_length=200_000, strip=False,
        help_text="Markdown. Raw HTML is shown as text.",
    )
    status = forms.ChoiceField(choices=ArticleStatus.choices)
    intents = forms.ModelMultipleChoiceField(
        queryset=Intent.objects.order_by("slug"),
        required=False,
        to_field_name="slug",
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )


class ArticlePreviewForm(forms.Form):
    body = forms.CharField(required=False, max_length=200_000, strip=False)


class ArticleFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(
        choices=[("", "Any status"), *ArticleStatus.choices], required=False
    )
    intent = forms.CharField(required=False, max_length=SLUG_MAX)


class ImportForm(forms.Form):
    KIND_CHOICES = [("json", "Taxonomy and articles (JSON)"), ("csv", "Phrases (CSV text,intent)")]
    kind = forms.ChoiceField(choices=KIND_CHOICES)
    file = forms.FileField()


class PlaygroundForm(forms.Form):
    text = forms.CharField(
        max_length=settings.CHAT_MAX_MESSAGE_CHARS, label="Customer message", strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    history = forms.CharField(
        required=False,
        max_length=20_000,
        label="Earlier customer turns (optional, one per line, oldest first)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    dialog_state = forms.CharField(required=False, max_length=20_000, widget=forms.HiddenInput)

    def clean_dialog_state(self) -> dict | None:
        raw = self.cleaned_data["dialog_state"].strip()
        if not raw:
            return None
        try:
            return bot_registered().dialog_state_check(loads_checked(raw, max_depth=8))
        except UnsafeJSON as exc:
            raise forms.ValidationError(f"The dialog state is not accepted: {exc}") from None
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_history(self) -> list[str]:
        turns = [" ".join(t.split()) for t in self.cleaned_data["history"].splitlines()]
        turns = [t for t in turns if t]
        if len(turns) > MAX_HISTORY_TURNS:
            raise forms.ValidationError(f"At most {MAX_HISTORY_TURNS} earlier turns.")
        return turns



class ConnectorForm(forms.Form):
    """A data connector. Header values are write-only: the field starts empty and, left
    empty, keeps the stored headers."""

    name = forms.CharField(max_length=NAME_MAX)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000,
        help_text="What the Claude backend reads to decide when to use it.",
    )
    intents = forms.ModelMultipleChoiceField(
        queryset=Intent.objects.order_by("slug"), required=False, to_field_name="slug",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    needs = forms.MultipleChoiceField(
        choices=[("order_number", "Order number"), ("email", "E-mail address"),
                 ("customer_id", "Verified customer id")],
        required=False, widget=forms.CheckboxSelectMultiple, label="Details it needs",
    )
    method = forms.ChoiceField(choices=[("GET", "GET"), ("POST", "POST")])
    url_template = forms.CharField(
        max_length=1000, label="URL template",
        help_text="Placeholders: {order_number}, {email}, {customer_id} (percent-encoded).",
    )
    allowed_hosts = forms.CharField(
        max_length=1000, label="Allowed hosts",
        help_text="Hosts the connector may call, separated by commas (host, host:port or "
        "[IPv6]:port; an IPv4 address as four decimal numbers).",
    )
    headers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}), required=False,
        max_length=4000, strip=True,
        help_text="One \"Name: value\" a line (visible ASCII characters only). Values are never "
        "shown again; leave empty to keep the stored headers.",
    )
    clear_headers = forms.BooleanField(required=False, label="Remove the stored headers")
    timeout_seconds = forms.FloatField(min_value=0.1, max_value=30.0, initial=3.0,
                                       label="Timeout (seconds)")
    verified_only = forms.BooleanField(required=False, label="Verified customers only")
    reply_template = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), max_length=10_000, strip=False,
        help_text=connector_library.help_text(),
    )
    fallback_text = forms.CharField(
        max_length=500, required=False,
        help_text="Said when the API finds nothing (404) or a field the template uses is missing.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def clean_headers(self) -> dict[str, str] | None:
        text = self.cleaned_data.get("headers", "")
        if not text:
            return None
        headers = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise forms.ValidationError(f'Line {number}: write "Name: value".')
            headers[name.strip()] = value.strip()
        try:
            return check_headers(headers)
        except ConnectorInvalid as error:
            raise forms.ValidationError(str(error)) from None

    def clean_allowed_hosts(self) -> list[str]:
        return [h.strip() for h in self.cleaned_data["allowed_hosts"].split(",") if h.strip()]


class ConnectorTestForm(forms.Form):
    """Sample values for the Test button: one required field per detail the connector needs
    (``needs``, from ``Connector.needs``), none for a detail it does not use."""

    FIELDS = {
        "order_number": lambda: forms.CharField(max_length=64, label="Order number"),
        "email": lambda: forms.CharField(max_length=254, label="E-mail address"),
        "customer_id": lambda: forms.CharField(
            max_length=200, label="Verified customer id",
            help_text="As the host page would sign it."),
    }

    def __init__(self, *args: Any, needs: list[str] | tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in needs:
            if name in self.FIELDS:
                self.fields[name] = self.FIELDS[name]()
