from django.contrib import admin

from apps.consent.models import Consent
from apps.consent.services import revoke_consent


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("user", "application", "scopes", "granted_at", "expires_at")
    # Only users who have a consent: not a list of every account to whoever may view consents.
    list_filter = ("application", ("user", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "application__name", "application__client_id")
    list_select_related = ("user", "application")
    actions = ["revoke"]

    @admin.action(permissions=["revoke"], description="Revoke selected consents (and the client's tokens for the user)")
    def revoke(self, request, queryset) -> None:
        for consent in queryset:
            self.log_change(request, consent, "Revoked, with the client's tokens for the user.")
            revoke_consent(user=consent.user, application=consent.application)
