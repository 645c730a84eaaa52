"""The dashboard's query string: a date range (preset or custom) and the intent/widget filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from knowledge.models import Intent

from .kpis import Period, Scope
from .models import ReportingEvent

# chat's Widget, through the relation the event declares by label: analytics imports nothing
# of chat (chat imports analytics).
Widget = ReportingEvent._meta.get_field("widget").related_model

PRESETS = (("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"))
DEFAULT_PRESET = "30"
MAX_DAYS = 366


class ReportForm(forms.Form):
    range = forms.ChoiceField(
        choices=[*PRESETS, ("custom", "Custom")], required=False, initial=DEFAULT_PRESET
    )
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    intent = forms.ChoiceField(required=False)
    widget = forms.ModelChoiceField(
        queryset=Widget.objects.order_by("name"), required=False, empty_label="All widgets"
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        slugs = Intent.objects.order_by("slug").values_list("slug", flat=True)
        self.fields["intent"].choices = [("", "All intents"), *((s, s) for s in slugs)]

    def clean(self) -> dict:
        data = super().clean()
        preset = data.get("range") or DEFAULT_PRESET
        start, end = data.get("start"), data.get("end")
        if preset == "custom":
            if not start or not end:
                raise forms.ValidationError("A custom range needs a start and an end date.")
            if start > end:
                raise forms.ValidationError("The start date must not be after the end date.")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(f"A range may span at most {MAX_DAYS} days.")
        data["range"] = preset
        return data

    def scope(self, today: date | None = None) -> Scope:
        """The scope of a valid form (call ``is_valid()`` first)."""
        data = self.cleaned_data
        today = today or timezone.now().astimezone(UTC).date()
        if data["range"] == "custom":
            first, last = data["start"], data["end"]
        else:
            last = today
            first = today - timedelta(days=int(data["range"]) - 1)
        period = Period(start=_midnight(first), end=_midnight(last + timedelta(days=1)))
        widget = data.get("widget")
        return Scope(
            period=period, intent=data.get("intent") or "", widget_id=widget.pk if widget else None
        )

    def querystring(self) -> str:
        """The form's values as a query string, to carry into fragment and CSV URLs."""
        data = self.cleaned_data
        params: dict[str, str] = {"range": data["range"]}
        if data["range"] == "custom":
            params["start"] = data["start"].isoformat()
            params["end"] = data["end"].isoformat()
        if data.get("intent"):
            params["intent"] = data["intent"]
        if data.get("widget"):
            params["widget"] = str(data["widget"].pk)
        return urlencode(params)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
