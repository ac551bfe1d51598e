"""The management API, mounted at /api/admin/ (idp/urls.py), and its OpenAPI schema."""

from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from apps.management_api import views

router = SimpleRouter()
router.register("resources", views.ApiResourceViewSet, basename="resource")
router.register("scopes", views.ApiScopeViewSet, basename="scope")
router.register("clients", views.ClientViewSet, basename="client")
router.register("exchange-policies", views.ExchangePolicyViewSet, basename="exchange-policy")
router.register("transaction-token-policies", views.TransactionTokenPolicyViewSet, basename="transaction-token-policy")
router.register("trusted-issuers", views.TrustedIssuerViewSet, basename="trusted-issuer")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("users", views.UserViewSet, basename="user")
router.register("consents", views.ConsentViewSet, basename="consent")
router.register("tokens", views.AccessTokenViewSet, basename="token")
router.register("keys", views.SigningKeyViewSet, basename="key")

SCHEMA_SETTINGS = {
    "TITLE": "IdP management API",
    "DESCRIPTION": (
        "Manage API resources, scopes, clients, exchange and transaction-token policies, trusted issuers; "
        "look after people's accounts, "
        "consents, access tokens and signing keys; read the audit trail. "
        "Authenticate with an access token of this IdP for the idp-admin audience (client credentials)."
    ),
    "VERSION": "1",
    "COMPONENT_SPLIT_REQUEST": True,
}


def not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Any other path under the API: JSON, as every answer of the API (not Django's HTML page)."""
    return JsonResponse({"detail": "Not found."}, status=404)


app_name = "management_api"
urlpatterns = [
    *router.urls,
    # Public, like any API description: it holds no data. No session authentication here either.
    # schema=None: the schema view itself is not an endpoint of the API it describes.
    path(
        "schema/",
        SpectacularAPIView.as_view(
            custom_settings=SCHEMA_SETTINGS, authentication_classes=[], permission_classes=[AllowAny], schema=None
        ),
        name="schema",
    ),
    # For operators signed in to the console (the admin site's own check: active staff), not
    # for the API's bearer tokens: a page to read the schema and try calls with a token.
    path("docs/", admin.site.admin_view(views.ApiExplorerView.as_view()), name="explorer"),
    # Last. Only paths ending in "/": one without is still redirected to its "/" form
    # (APPEND_SLASH), as for the API's own endpoints.
    re_path(r"^.*/$", not_found),
]
