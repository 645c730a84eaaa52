"""The form of the webhooks admin: it parses; ``webhooks.services`` checks and saves."""

from __future__ import annotations

from django import forms
from django.conf import settings

from .services import EVENT_NAMES


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL", max_length=1000,
        widget=forms.URLInput(attrs={"placeholder": "https://crm.example.com/hooks/supportdesk"}),
        help_text="Receives a signed POST per event.",
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_NAMES], widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
            # Says what ``services.check_endpoint_url`` refuses, only where it refuses it.
            self.fields["url"].help_text += (
                " Public addresses only: private and loopback addresses are refused.")
