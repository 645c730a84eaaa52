"""The dashboard's query string: a date range (preset or custom) and the intent/widget filters."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms
from django.db.models import Min

from knowledge.models import Intent

from .kpis import Period, Scope
from .models import CohortDay, ReportingEvent
from .zones import desk_zone, local_midnight, local_today, reporting_zones, zone_label

# chat's Widget, through the relation the event declares by label: analytics imports nothing
# of chat (chat imports analytics).
Widget = ReportingEvent._meta.get_field("widget").related_model

PRESETS = (("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days"))
DEFAULT_PRESET = "30"
MAX_DAYS = 366
# The span a custom range may lie in: no desk has data before 2000, and a year ahead is
# enough to plan; dates beyond would only overflow the date arithmetic.
EARLIEST_DAY = date(2000, 1, 1)
DAYS_AHEAD = 366


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
    tz = forms.ChoiceField(required=False, label="Time zone")

    def __init__(self, *args, zone: str = "", **kwargs) -> None:
        """``zone``: the manager's own zone when the query names none (else the desk's)."""
        super().__init__(*args, **kwargs)
        slugs = Intent.objects.order_by("slug").values_list("slug", flat=True)
        self.fields["intent"].choices = [("", "All intents"), *((s, s) for s in slugs)]
        zones = reporting_zones()
        self.fields["tz"].choices = [(z, zone_label(z)) for z in zones]
        self.default_zone = zone if zone in zones else desk_zone()
        self.fields["tz"].initial = self.default_zone
        if self.is_bound and not self.data.get("tz"):
            # The zone in force is the one the select shows (and so submits with the next
            # filter change): a query naming no zone is bound to the default one.
            self.data = self.data.copy()
            self.data["tz"] = self.default_zone
        self.data_starts: date | None = None  # set by scope() when a preset was shortened

    def clean(self) -> dict:
        data = super().clean()
        preset = data.get("range") or DEFAULT_PRESET
        start, end = data.get("start"), data.get("end")
        if preset == "custom":
            if not start or not end:
                raise forms.ValidationError("A custom range needs a start and an end date.")
            zone = data.get("tz") or self.default_zone
            latest = local_today(zone) + timedelta(days=DAYS_AHEAD)
            if not (EARLIEST_DAY <= start <= latest and EARLIEST_DAY <= end <= latest):
                raise forms.ValidationError(
                    f"Dates must lie between {EARLIEST_DAY.isoformat()} and {latest.isoformat()}."
                )
            if start > end:
                raise forms.ValidationError("The start date must not be after the end date.")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(f"A range may span at most {MAX_DAYS} days.")
        data["range"] = preset
        data["tz"] = data.get("tz") or self.default_zone
        return data

    def scope(self, today: date | None = None) -> Scope:
        """The scope of a valid form (call ``is_valid()`` first). A preset starts at the
        first day with data when that is later (``data_starts`` then says so)."""
        data = self.cleaned_data
        zone = data["tz"]
        today = today or local_today(zone)
        if data["range"] == "custom":
            first, last = data["start"], data["end"]
        else:
            last = today
            first = today - timedelta(days=int(data["range"]) - 1)
            starts = first_day_with_data(zone)
            if starts is not None and first < starts <= last:
                first = self.data_starts = starts
        period = Period(
            start=local_midnight(first, zone), end=local_midnight(last + timedelta(days=1), zone)
        )
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
        params["tz"] = data["tz"]
        return urlencode(params)


def first_day_with_data(zone: str) -> date | None:
    """The first cohort day of the rollup in ``zone`` (one index lookup), or None."""
    return CohortDay.objects.filter(zone=zone, intent="").aggregate(first=Min("day"))["first"]
