from django.contrib import admin

from apps.resources.models import ApiResource, ApiScope


class ApiScopeInline(admin.TabularInline):
    model = ApiScope
    extra = 1


@admin.register(ApiResource)
class ApiResourceAdmin(admin.ModelAdmin):
    list_display = (
        "audience",
        "name",
        "resource_uri",
        "enabled",
        "access_token_lifetime",
        "signing_algorithm",
        "store_tokens",
        "require_second_factor",
    )
    list_filter = ("enabled", "signing_algorithm", "store_tokens", "require_second_factor")
    search_fields = ("audience", "name", "resource_uri")
    inlines = [ApiScopeInline]
    # Links to "Register a service" (the API, its client and exchange policies in one step).
    change_list_template = "admin/console/register_service_changelist.html"


@admin.register(ApiScope)
class ApiScopeAdmin(admin.ModelAdmin):
    list_display = ("name", "resource", "description")
    list_filter = ("resource",)
    search_fields = ("name", "description")
