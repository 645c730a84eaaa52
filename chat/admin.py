from django.contrib import admin

from knowledge.safejson import CHECKED_JSON

from .models import AgentPresence, BotTrace, Contact, Conversation, Message, Widget


@admin.register(Widget)
class WidgetAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_JSON
    list_display = ["public_key", "name", "display_name", "is_active"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "widget", "created_at"]


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


@admin.register(BotTrace)
class BotTraceAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_JSON
    list_display = ["message", "intent", "confidence", "backend", "decision", "total_ms"]
    list_filter = ["decision", "backend"]


@admin.register(AgentPresence)
class AgentPresenceAdmin(admin.ModelAdmin):
    list_display = ["user", "status", "last_seen"]
