from django.contrib import admin

from .models import ReportingEvent


@admin.register(ReportingEvent)
class ReportingEventAdmin(admin.ModelAdmin):
    list_display = ["name", "occurred_at", "conversation", "intent", "category", "value"]
    list_filter = ["name", "category"]
    date_hierarchy = "occurred_at"
