"""Endpoints under /o/. DOT's views where they fit, ours where we need different behaviour.

Kept under DOT's ``oauth2_provider`` namespace so DOT's own reverse() calls still resolve.
"""

from django.urls import path

from apps.authorize.views import ConsentAuthorizationView
from apps.endpoints import views

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", ConsentAuthorizationView.as_view(), name="authorize"),
    path("par/", views.PushedAuthorizationRequestView.as_view(), name="pushed-authorization-request"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke_token/", views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", views.IntrospectView.as_view(), name="introspect"),
    path("userinfo/", views.UserInfoView.as_view(), name="user-info"),
    path("logout/", views.RPInitiatedLogoutView.as_view(), name="rp-initiated-logout"),
]
