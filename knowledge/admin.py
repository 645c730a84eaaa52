from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from knowledge.safejson import CHECKED_JSON

from .models import (
    Article,
    ArticleVersion,
    AuditLogEntry,
    ClassifierModel,
    EscalationSignal,
    Intent,
    TrainingPhrase,
)


class TrainingPhraseInline(admin.TabularInline):
    model = TrainingPhrase
    extra = 0


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_JSON
    list_display = ["slug", "name", "escalation_policy", "is_active"]
    list_filter = ["escalation_policy", "is_active"]
    search_fields = ["slug", "name"]
    inlines = [TrainingPhraseInline]


@admin.register(TrainingPhrase)
class TrainingPhraseAdmin(admin.ModelAdmin):
    list_display = ["text", "intent"]
    list_filter = ["intent"]
    search_fields = ["text"]


@admin.register(EscalationSignal)
class EscalationSignalAdmin(admin.ModelAdmin):
    list_display = ["phrase", "category", "is_active"]
    list_filter = ["category", "is_active"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "updated_at"]
    list_filter = ["status", "intents"]
    search_fields = ["title", "body"]
    filter_horizontal = ["intents"]


@admin.register(ArticleVersion)
class ArticleVersionAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_JSON
    list_display = ["article", "number", "author", "created_at"]


@admin.register(ClassifierModel)
class ClassifierModelAdmin(admin.ModelAdmin):
    list_display = ["version", "status", "is_active", "n_intents", "n_phrases", "created_at"]
    readonly_fields = ["metrics"]


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_JSON
    list_display = ["created_at", "actor", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]

    # The audit log is read, never written, in the admin: nobody edits or erases their trail.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
