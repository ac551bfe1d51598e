from django.contrib import admin
from django.urls import include, path

from apps.accounts.views import HomeView
from apps.endpoints import views as oauth_views

urlpatterns = [
    path("", HomeView.as_view(), name="home"),
    path("o/", include("apps.endpoints.urls")),
    path(
        ".well-known/openid-configuration",
        oauth_views.MetadataView.as_view(openid=True),
        name="openid-configuration",
    ),
    path(
        ".well-known/oauth-authorization-server",
        oauth_views.MetadataView.as_view(openid=False),
        name="oauth-authorization-server",
    ),
    path(".well-known/jwks.json", oauth_views.JwksView.as_view(), name="jwks"),
    path("accounts/", include("apps.accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/admin/", include("apps.management_api.urls")),
    path("", include("apps.ops.urls")),
]

# A database outage answers 503 temporarily_unavailable, anything else 500 (apps/ops/errors.py).
handler500 = "apps.ops.errors.server_error"
