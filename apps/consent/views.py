"""The authorization endpoint's consent screen (DOT's AuthorizationView, extended).

DOT validates the request and handles login, ``prompt`` and first-party clients
(``skip_authorization``); it renders the form only when the user has to decide. At that
point a remembered consent that covers the requested scopes approves on the user's behalf,
unless ``prompt=consent`` asks to be shown the screen again. A remembered consent is the
only way past the screen: DOT's own ``approval_prompt=auto`` shortcut is not honoured.
"""

import re
import time
from urllib.parse import parse_qs, urlsplit

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.views import AuthorizationView

from apps.accounts.sessions import session_auth_time
from apps.consent.services import consent_covers, group_scopes, remember_consent
from apps.oauth.errors import ConsentRequired, InvalidRequest, shown
from apps.oauth.models import Application
from apps.oauth.params import repeated_parameters
from apps.oauth.redirects import with_issuer
from apps.oauth.views import has_control_characters

# RFC 7636 section 4.2: 43 to 128 unreserved characters.
CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
MAX_NONCE_LENGTH = 255


class ConsentAuthorizationView(AuthorizationView):
    template_name = "consent/authorize.html"

    def dispatch(self, request, *args, **kwargs) -> HttpResponse:
        if problem := self._malformed(request):
            return self.render_to_response({"error": InvalidRequest(description=problem)}, status=400)
        if "approval_prompt" in request.GET:
            request.GET = request.GET.copy()
            del request.GET["approval_prompt"]
        if request.user.is_authenticated and request.method == "GET":
            prompt = set(request.GET.get("prompt", "").split())
            if "login" in prompt:
                # OpenID Connect Core 3.1.2.1: the user must sign in again, not reuse the session.
                logout(request)
                return self.handle_prompt_login()
            if self._max_age_exceeded(request):
                logout(request)
                return redirect_to_login(request.get_full_path(), self.get_login_url())
        return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def _malformed(request) -> str | None:
        """Refused with an error page before any lookup (and before a too-long value reaches
        a database column)."""
        if has_control_characters(request):
            return "Control characters in parameters."
        query = request.GET if request.method == "GET" else request.POST
        # RFC 6749 section 3.1: parameters MUST NOT be included more than once (oauthlib checks
        # only some; a repeated code_challenge or nonce would otherwise pass with one copy).
        if repeated := repeated_parameters(query):
            return f"Parameter sent more than once: {shown(', '.join(repeated))}."
        challenge = query.get("code_challenge")
        if challenge is not None and not CODE_CHALLENGE.match(challenge):
            return "code_challenge must be 43 to 128 unreserved characters (RFC 7636)."
        if len(query.get("nonce", "")) > MAX_NONCE_LENGTH:
            return "nonce is too long."
        return None

    @staticmethod
    def _max_age_exceeded(request) -> bool:
        """OpenID Connect Core 3.1.2.1: a sign-in older than ``max_age`` seconds must be redone."""
        try:
            max_age = int(request.GET["max_age"])
        except (KeyError, ValueError):
            return False
        auth_time = session_auth_time(request)
        return auth_time is None or time.time() - auth_time > max_age

    def render_to_response(self, context, **response_kwargs) -> HttpResponse:
        application = context.get("application")
        prompt = set(self.request.GET.get("prompt", "").split())
        if application is not None and "error" not in context:
            covered = consent_covers(user=self.request.user, application=application, scopes=context["scopes"])
            if covered and "consent" not in prompt:
                form = self.get_form_class()(data={**self.get_initial(), "allow": True})
                if form.is_valid():
                    return self.form_valid(form, remember=False)
            if "none" in prompt:
                # OpenID Connect Core 3.1.2.6: no UI may be shown.
                error = ConsentRequired(state=self.oauth2_data.get("state"))
                return self.error_response(
                    OAuthToolkitError(error=error, redirect_uri=self.oauth2_data["redirect_uri"]), application
                )
        if "scopes" in context:
            context["scope_groups"] = group_scopes(context["scopes"])
        return super().render_to_response(context, **response_kwargs)

    def form_valid(self, form, remember: bool = True) -> HttpResponse:
        """The user decided on the screen: an approval that produced a code is remembered; a
        denial sends ``access_denied`` to the client (DOT)."""
        application = Application.objects.filter(client_id=form.cleaned_data["client_id"]).first()
        if application is None:
            return self.render_to_response({"error": InvalidRequest(description="Unknown client.")}, status=400)
        # The session's sign-in time travels with the code into the ID token's auth_time.
        self.request.user.session_auth_time = session_auth_time(self.request)
        response = super().form_valid(form)
        location = response.get("Location", "")
        if remember and form.cleaned_data.get("allow") and "code" in parse_qs(urlsplit(location).query):
            remember_consent(
                user=self.request.user, application=application, scopes=form.cleaned_data.get("scope", "").split()
            )
        return response

    def redirect(self, redirect_to: str, application) -> HttpResponse:
        # RFC 9207: every authorization response, errors included, names its issuer.
        return super().redirect(with_issuer(redirect_to), application)
