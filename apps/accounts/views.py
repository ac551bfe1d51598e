"""Sign-in, sign-out, the home page and the user's connected apps."""

from urllib.parse import parse_qs, urlsplit

from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.generic import TemplateView

from apps.accounts.forms import LoginForm
from apps.consent.models import Consent
from apps.consent.services import group_scopes, revoke_consent
from apps.oauth.models import Application
from idp.conf import idp_settings


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "app_name": requesting_app(self.get_redirect_url())}

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        if not form.cleaned_data.get("remember_me"):
            self.request.session.set_expiry(0)  # ends with the browser session
        else:
            self.request.session.set_expiry(idp_settings.REMEMBER_ME_DAYS * 24 * 3600)
        return response


def requesting_app(next_url: str) -> str | None:
    """The name of the enabled client whose authorization request sent the user to sign in
    (``next`` is our own /o/authorize/ URL, already checked to be on this site), or None."""
    parts = urlsplit(next_url)
    if parts.path != reverse("oauth2_provider:authorize"):
        return None
    client_id = parse_qs(parts.query).get("client_id", [""])[0]
    if not client_id:
        return None
    name = Application.objects.filter(client_id=client_id, is_active=True).values_list("name", flat=True).first()
    return name or None


class LogoutView(auth_views.LogoutView):
    template_name = "accounts/logged_out.html"


class SignedOutView(TemplateView):
    """Where a sign-out without a destination of its own ends (RP-initiated logout included)."""

    template_name = "accounts/logged_out.html"


class HomeView(TemplateView):
    """The IdP's own front page: who is signed in and the apps they let in, or a way to sign in."""

    template_name = "accounts/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.request.user.is_authenticated:
            consents = Consent.objects.filter(user=self.request.user).select_related("application")
            context["apps"] = [consent.application for consent in consents]
        return context


class ConnectedAppsView(LoginRequiredMixin, TemplateView):
    """The apps the user has let in, with what each may do, and a button to revoke each."""

    template_name = "accounts/connected_apps.html"

    def get_context_data(self, **kwargs):
        assert self.request.user.is_authenticated  # LoginRequiredMixin
        consents = Consent.objects.filter(user=self.request.user).select_related("application")
        return {
            **super().get_context_data(**kwargs),
            "apps": [{"consent": c, "scope_groups": group_scopes(c.scope_list)} for c in consents],
        }

    def post(self, request: HttpRequest) -> HttpResponse:
        consent_id = request.POST.get("consent", "")
        consent = get_object_or_404(Consent, pk=int(consent_id) if consent_id.isdigit() else None, user=request.user)
        revoke_consent(user=request.user, application=consent.application)
        return redirect("accounts:connected-apps")
