"""Admin classes, wired in through DOT's *_ADMIN_CLASS settings. Secrets and private keys
are never displayed: a client shows its secret hint, a key its public half."""

from django import forms
from django.contrib import admin
from oauth2_provider.admin import AccessTokenAdmin as DotAccessTokenAdmin
from oauth2_provider.admin import GrantAdmin as DotGrantAdmin
from oauth2_provider.admin import IDTokenAdmin as DotIDTokenAdmin
from oauth2_provider.admin import RefreshTokenAdmin as DotRefreshTokenAdmin

from apps.audit.admin import ReadOnlyAdmin
from apps.oauth.models import ExchangePolicy, SigningKey


class ApplicationAdmin(admin.ModelAdmin):
    list_display = ("name", "client_id", "client_type", "resource", "is_active", "secret_hint")
    list_filter = ("client_type", "is_active")
    search_fields = ("name", "client_id")
    filter_horizontal = ("allowed_scopes",)
    exclude = ("client_secret", "hash_client_secret", "user")
    readonly_fields = ("client_id", "secret_hint")


class AccessTokenAdmin(DotAccessTokenAdmin):
    """DOT's "Revoke selected access tokens" action deletes the rows; AccessToken.parent
    cascades, so every token exchanged from a revoked one goes with it."""

    list_display = ("pk", "jti", "application", "user", "audience", "act", "expires")
    raw_id_fields = ("user", "source_refresh_token", "id_token", "parent")
    exclude = ("token", "token_checksum")


class RefreshTokenAdmin(DotRefreshTokenAdmin):
    exclude = ("token", "token_checksum")


class GrantAdmin(DotGrantAdmin):
    exclude = ("code",)


class IDTokenAdmin(DotIDTokenAdmin):
    pass


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    """Keys come and go by rotation (rotate_keys), never by hand: deleting a published key
    would fail every token it signed. The private half is never shown."""

    list_display = ("kid", "algorithm", "state", "created", "activated_at", "retired_at")
    list_filter = ("algorithm", "state")
    fields = ("kid", "algorithm", "state", "public_jwk", "created", "activated_at", "retired_at")
    readonly_fields = fields


class ExchangePolicyForm(forms.ModelForm):
    class Meta:
        model = ExchangePolicy
        fields = [
            "client", "subject_audiences", "target", "scopes", "mode",
            "max_depth", "max_lifetime", "accept_id_token", "enabled",
        ]  # fmt: skip

    def clean(self) -> dict:
        cleaned = super().clean()
        target, scopes = cleaned.get("target"), cleaned.get("scopes")
        if target is not None and scopes is not None:
            foreign = sorted(s.name for s in scopes if s.resource_id != target.pk)
            if foreign:
                self.add_error("scopes", f"Not scopes of {target}: {', '.join(foreign)}")
        return cleaned


@admin.register(ExchangePolicy)
class ExchangePolicyAdmin(admin.ModelAdmin):
    form = ExchangePolicyForm
    list_display = ("summary", "enabled")
    list_filter = ("enabled", "mode", "target")
    search_fields = ("client__name", "client__client_id", "target__audience")
    filter_horizontal = ("subject_audiences", "scopes")
    list_select_related = ("client", "client__resource", "target")

    @admin.display(description="policy")
    def summary(self, policy: ExchangePolicy) -> str:
        return policy.summary()
