from django.contrib import admin

from apps.resources.models import ApiResource, ApiScope
from apps.resources.privileged import grantable_resources, is_privileged_resource


class ChangedBySuperusersIfPrivileged(admin.ModelAdmin):
    """A privileged API (apps/resources/privileged.py) and its scopes are changed or deleted by
    a superuser only, and no scope is added to one by anyone else: whoever could rename them
    could rename an API of their own, with scopes their clients hold, into the privileged one."""

    # Where an object names its API: ``None`` when the object is the API itself.
    api_field: str | None = None

    def api_of(self, obj) -> ApiResource | None:
        return obj if self.api_field is None else getattr(obj, self.api_field)

    def may_touch(self, request, obj) -> bool:
        return obj is None or request.user.is_superuser or not is_privileged_resource(self.api_of(obj))

    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self.may_touch(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self.may_touch(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is ApiResource and not request.user.is_superuser:
            kwargs["queryset"] = grantable_resources(ApiResource.objects.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ApiScopeInline(admin.TabularInline):
    model = ApiScope
    extra = 1


@admin.register(ApiResource)
class ApiResourceAdmin(ChangedBySuperusersIfPrivileged):
    list_display = (
        "audience",
        "name",
        "resource_uri",
        "enabled",
        "access_token_lifetime",
        "signing_algorithm",
        "store_tokens",
        "require_second_factor",
        "require_dpop",
    )
    list_filter = ("enabled", "signing_algorithm", "store_tokens", "require_second_factor", "require_dpop")
    search_fields = ("audience", "name", "resource_uri")
    fieldsets = [
        (None, {"fields": ["audience", "name", "resource_uri", "enabled"]}),
        ("Its tokens", {"fields": ["access_token_lifetime", "signing_algorithm", "user_claims", "store_tokens"]}),
        (
            "What a token for it requires",
            {
                "fields": ["require_second_factor", "require_dpop"],
                "description": (
                    "Requiring DPoP binds every token for this API to its caller's key: a token request "
                    "without a DPoP proof is refused, so turn it on once every client of the API sends proofs."
                ),
            },
        ),
    ]
    inlines = [ApiScopeInline]
    # Links to "Register a service" (the API, its client and exchange policies in one step).
    change_list_template = "admin/console/register_service_changelist.html"


@admin.register(ApiScope)
class ApiScopeAdmin(ChangedBySuperusersIfPrivileged):
    list_display = ("name", "resource", "description")
    list_filter = ("resource",)
    search_fields = ("name", "description")

    api_field = "resource"
