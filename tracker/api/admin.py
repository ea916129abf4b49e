from django.contrib import admin, messages

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    fields = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["user"]
    actions = ["revoke_selected"]

    def has_change_permission(self, request, obj=None):
        return False  # tokens are issued and revoked, never edited

    def save_model(self, request, obj, form, change):
        token, key = ApiToken.issue(form.cleaned_data["user"], form.cleaned_data["name"])
        obj.pk = token.pk
        self.message_user(request, f"Token issued. Copy it now, it will not be shown again: {key}", messages.WARNING)

    @admin.action(description="Revoke selected tokens")
    def revoke_selected(self, request, queryset):
        for token in queryset:
            token.revoke()
        self.message_user(request, f"{queryset.count()} token(s) revoked.")
