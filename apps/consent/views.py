"""The authorization endpoint's consent screen (DOT's AuthorizationView, extended).

DOT validates the request and handles login, ``prompt`` and first-party clients
(``skip_authorization``); it renders the form only when the user has to decide. At that
point a remembered consent that covers the requested scopes approves on the user's behalf,
unless ``prompt=consent`` asks to be shown the screen again.
"""

from urllib.parse import parse_qs, urlsplit

from django.http import HttpResponse
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.views import AuthorizationView

from apps.consent.services import consent_covers, group_scopes, remember_consent
from apps.oauth.errors import ConsentRequired, InvalidRequest
from apps.oauth.models import Application
from apps.oauth.views import has_control_characters


class ConsentAuthorizationView(AuthorizationView):
    template_name = "consent/authorize.html"

    def dispatch(self, request, *args, **kwargs) -> HttpResponse:
        if has_control_characters(request):
            error = OAuthToolkitError(error=InvalidRequest(description="Control characters in parameters."))
            return self.render_to_response({"error": error.oauthlib_error}, status=400)
        return super().dispatch(request, *args, **kwargs)

    def render_to_response(self, context, **response_kwargs) -> HttpResponse:
        application = context.get("application")
        prompt = set(self.request.GET.get("prompt", "").split())
        if application is not None and "error" not in context:
            covered = consent_covers(user=self.request.user, application=application, scopes=context["scopes"])
            if covered and "consent" not in prompt:
                form = self.get_form_class()(data={**self.get_initial(), "allow": True})
                if form.is_valid():
                    return super().form_valid(form)
            if "none" in prompt:
                # OpenID Connect Core 3.1.2.6: no UI may be shown.
                error = ConsentRequired(state=self.oauth2_data.get("state"))
                return self.error_response(
                    OAuthToolkitError(error=error, redirect_uri=self.oauth2_data["redirect_uri"]), application
                )
        if "scopes" in context:
            context["scope_groups"] = group_scopes(context["scopes"])
        return super().render_to_response(context, **response_kwargs)

    def form_valid(self, form) -> HttpResponse:
        """The user decided on the screen: an approval that produced a code is remembered; a
        denial sends ``access_denied`` to the client (DOT)."""
        response = super().form_valid(form)
        location = response.get("Location", "")
        if form.cleaned_data.get("allow") and "code" in parse_qs(urlsplit(location).query):
            remember_consent(
                user=self.request.user,
                application=Application.objects.get(client_id=form.cleaned_data["client_id"]),
                scopes=form.cleaned_data.get("scope", "").split(),
            )
        return response
