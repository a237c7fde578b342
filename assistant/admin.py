"""The assistant's records in the Django admin: read-only (the services write them); manuals are uploaded
and deleted from the manuals page or the API, which check and index them."""

from django.contrib import admin

from assistant.models import Conversation, Explanation, ManualDocument, Message, Report


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Explanation)
class ExplanationAdmin(ReadOnlyAdmin):
    list_display = ["id", "machine", "prediction", "source", "model_name", "seconds", "created_at"]
    list_filter = ["source"]
    search_fields = ["machine__machine_id", "text"]
    list_select_related = ["machine", "prediction"]


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["role", "text", "source", "finish_reason", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ["id", "title", "user", "machine", "updated_at"]
    search_fields = ["title", "user__username", "machine__machine_id"]
    list_select_related = ["user", "machine"]
    inlines = [MessageInline]


@admin.register(ManualDocument)
class ManualDocumentAdmin(ReadOnlyAdmin):
    list_display = ["name", "title", "format", "category", "bytes", "chunks", "uploaded_by", "created_at"]
    list_filter = ["format", "category"]
    search_fields = ["name", "title"]
    exclude = ["text"]


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "scope", "machine", "job", "pages", "bytes", "requested_by", "created_at"]
    list_filter = ["scope"]
    list_select_related = ["machine", "job", "requested_by"]
