from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from knowledge.safejson import CHECKED_JSON

from .identity import widget_secret_rotate
from .models import (
    AgentPresence,
    AgentProfile,
    BotTrace,
    CannedResponse,
    Contact,
    Conversation,
    Label,
    Message,
    OwedEmail,
    Widget,
)
from .services import widget_delete, widget_save


@admin.register(Widget)
class WidgetAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_JSON
    list_display = ["public_key", "name", "display_name", "is_active", "has_identity_secret"]
    actions = ["rotate_identity_secret"]

    def save_model(self, request: HttpRequest, obj: Widget, form: Any, change: bool) -> None:
        """Saves through ``widget_save``, which audits the change."""
        widget_save(actor=request.user, widget=obj)

    def delete_model(self, request: HttpRequest, obj: Widget) -> None:
        """Deletes through ``widget_delete``, which audits it."""
        widget_delete(actor=request.user, widget=obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        """The bulk delete action, one audited ``widget_delete`` per widget."""
        for widget in queryset:
            widget_delete(actor=request.user, widget=widget)

    @admin.display(boolean=True, description="Identity secret")
    def has_identity_secret(self, widget: Widget) -> bool:
        return bool(widget.identity_secret)

    @admin.action(description="Make a new identity secret (shown once)")
    def rotate_identity_secret(self, request: HttpRequest, queryset: Any) -> None:
        """Rotates each selected widget's secret and shows the new one in this response only."""
        for widget in queryset:
            secret = widget_secret_rotate(actor=request.user, widget=widget)
            self.message_user(
                request,
                f"New identity secret for {widget.public_key}: {secret} — copy it now, it is "
                "not shown again. Pages signing with the old one are no longer verified.",
                messages.WARNING,
            )


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "widget", "is_verified", "created_at"]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["seq", "author", "text", "created_at"]
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_JSON
    list_display = ["public_id", "widget", "status", "intent", "resolution", "created_at"]
    list_filter = ["status", "resolution", "widget"]
    exclude = ["token_hash"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_JSON
    list_display = ["conversation", "seq", "author", "created_at"]
    list_filter = ["author"]
    raw_id_fields = ["emailed_in"]


@admin.register(OwedEmail)
class OwedEmailAdmin(admin.ModelAdmin):
    """The e-mail outbox (chat.mail), to read: a pending row with attempts is a failing send."""

    list_display = ["pk", "kind", "status", "conversation", "send_after", "attempts",
                    "last_error", "sent_at"]
    list_filter = ["status", "kind"]
    readonly_fields = [field.name for field in OwedEmail._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BotTrace)
class BotTraceAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_JSON
    list_display = ["message", "intent", "confidence", "backend", "decision", "total_ms"]
    list_filter = ["decision", "backend"]


@admin.register(AgentPresence)
class AgentPresenceAdmin(admin.ModelAdmin):
    list_display = ["user", "status", "last_seen"]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["name", "color"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    """Admins manage the shared canned responses here; agents' personal ones stay theirs."""

    list_display = ["shortcut", "title", "owner", "updated_at"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["shortcut", "title", "text"]

    def get_queryset(self, request):
        """Shared responses only: a personal one is its owner's alone."""
        return super().get_queryset(request).filter(owner__isnull=True)

    def get_exclude(self, request, obj=None):
        """No owner field: what is made here is shared."""
        return ["owner", "created_by"]

    def save_model(self, request, obj, form, change) -> None:
        """Records who wrote it; the owner stays empty (shared)."""
        obj.owner = None
        obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "initials"]
