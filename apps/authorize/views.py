"""The authorization endpoint's consent screen (DOT's AuthorizationView, extended).

The request is judged first, before the sign-in page and before ``prompt`` or ``max_age``
can act (RFC 6749 section 4.1.2.1): a bad client or redirect URI gets a page in plain words
and never a redirect; anything else goes back to the client as an error redirect. Then
``prompt`` and ``max_age`` apply. DOT handles the rest of a valid request (login, first-party
clients with ``skip_authorization``) and renders the form only when the user has to decide.
At that point a remembered consent that covers the requested scopes approves on the user's
behalf, unless ``prompt=consent`` asks to be shown the screen again. A remembered consent is
the only way past the screen: DOT's own ``approval_prompt=auto`` shortcut is not honoured.

A signed-in session must also be strong enough (apps/tokens/sign_in.py): the level the request
asks for in ``acr_values``, and a second factor if the client or an API of the requested
scopes requires one. A weaker session is sent to prove its second factor (or to set one up)
and back here; ``prompt=none`` gets ``interaction_required`` instead.
"""

import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.views import AuthorizationView
from oauthlib.oauth2.rfc6749 import errors as oauthlib_errors
from oauthlib.openid.connect.core.exceptions import RequestNotSupported, RequestURINotSupported

from apps.accounts.languages import UI_LOCALES, supported_language
from apps.accounts.sessions import current_ref, session_acr, session_auth_time, session_methods
from apps.consent.services import consent_covers, group_scopes, remember_consent
from apps.factors.services import has_second_factor
from apps.oauth.models import Application, Grant
from apps.protocol import strength
from apps.protocol.errors import (
    ConsentRequired,
    InteractionRequired,
    InvalidRequest,
    LoginRequired,
    OAuth2Error,
    shown,
)
from apps.protocol.forms import has_control_characters
from apps.protocol.params import repeated_parameters
from apps.protocol.redirects import with_issuer
from apps.tokens.issuance import user_token_plan
from apps.tokens.sign_in import required_acr

# RFC 7636 section 4.2: 43 to 128 unreserved characters.
CODE_CHALLENGE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
MAX_NONCE_LENGTH = 255
# OpenID Connect Core 3.1.2.1: max_age is a non-negative number of seconds.
MAX_AGE = re.compile(r"^[0-9]{1,10}$")
# OpenID Connect Core 3.1.2.1: acr_values is a space-separated list of strings. We know two;
# a few dozen of any length a URI needs is more than any client means.
MAX_ACR_VALUES_LENGTH = 1000
MAX_ACR_VALUES = 20

# What a person is told when the request cannot go back to the client (RFC 6749 section
# 4.1.2.1): (headline, explanation), in plain words; the protocol detail comes after.
UNKNOWN_CLIENT = (
    _("Unknown application"),
    _("The application that sent you here is not registered with this sign-in service, so it cannot sign you in."),
)
UNKNOWN_REDIRECT = (
    _("Unknown return address"),
    _(
        "The application that sent you here asked to send you back to an address it has not registered, "
        "so you are not sent there."
    ),
)
BROKEN_LINK = (
    _("This sign-in link is broken"),
    _("The application that sent you here built its sign-in link wrongly."),
)
_PROBLEMS = {
    oauthlib_errors.MissingClientIdError: UNKNOWN_CLIENT,
    oauthlib_errors.InvalidClientIdError: UNKNOWN_CLIENT,
    oauthlib_errors.MissingRedirectURIError: UNKNOWN_REDIRECT,
    oauthlib_errors.InvalidRedirectURIError: UNKNOWN_REDIRECT,
    oauthlib_errors.MismatchingRedirectURIError: UNKNOWN_REDIRECT,
}


# --- checks oauthlib does not make, run once it has found client and redirect URI valid --------


def refuse_request_objects(query: QueryDict, request) -> None:
    """OpenID Connect Core 6.1 and 6.2: request objects are not supported (discovery says
    so); ignoring one would issue a code for parameters other than the ones the client meant."""
    if "request" in query:
        raise RequestNotSupported(request=request)
    if "request_uri" in query:
        raise RequestURINotSupported(request=request)


def check_prompt(query: QueryDict, request) -> None:
    prompt = set(query.get("prompt", "").split())
    # OpenID Connect Core 3.1.2.1 (oauthlib checks it only when openid is among the scopes).
    if "none" in prompt and len(prompt) > 1:
        raise InvalidRequest(description="prompt=none cannot be combined with other values.", request=request)
    # Prompt Create 1.0 section 4.1.1: an OP that does not create accounts answers invalid_request.
    if "create" in prompt:
        raise InvalidRequest(description="prompt=create is not supported.", request=request)


def check_max_age(query: QueryDict, request) -> None:
    max_age = query.get("max_age")
    if max_age is not None and not MAX_AGE.match(max_age):
        raise InvalidRequest(description="max_age must be a whole number of seconds.", request=request)


def check_acr_values(query: QueryDict, request) -> None:
    """OpenID Connect Core 3.1.2.1: values we do not know are ignored (they are voluntary), but
    an oversized list is a broken request, not a preference."""
    acr_values = query.get("acr_values")
    if acr_values is None:
        return
    if len(acr_values) > MAX_ACR_VALUES_LENGTH or len(acr_values.split()) > MAX_ACR_VALUES:
        raise InvalidRequest(description="acr_values is too long.", request=request)


AUTHORIZATION_REQUEST_CHECKS = (refuse_request_objects, check_prompt, check_max_age, check_acr_values)


class ConsentAuthorizationView(AuthorizationView):
    template_name = "consent/authorize.html"
    _validated: tuple | None = None

    def dispatch(self, request, *args, **kwargs) -> HttpResponse:
        # OpenID Connect Core 3.1.2.1: the pages of this request (error pages, consent screen)
        # in the language it asks for; the sign-in page reads it from its ``next``. (The query
        # string: the consent form posts back to this URL.)
        if language := supported_language(request.GET.get(UI_LOCALES, "")):
            translation.activate(language)
        if problem := self._malformed(request):
            return self.render_to_response({"error": InvalidRequest(description=problem)}, status=400)
        if "approval_prompt" in request.GET:
            request.GET = request.GET.copy()
            del request.GET["approval_prompt"]
        if "resource" in request.GET:
            # RFC 8707 resource indicators are checked (and remembered by the code) by our
            # OAuth2Validator through plan_token, which reads them from the query string as sent;
            # DOT's own check in this view demands a host, refusing our URNs.
            request.GET = request.GET.copy()
            del request.GET["resource"]
        if request.method == "GET":
            # RFC 6749 section 4.1.2.1: judged before the sign-in page, and before prompt or
            # max_age may sign anyone out.
            try:
                _scopes, credentials = self.validate_authorization_request(request)
            except OAuthToolkitError as error:
                return self.error_response(error, application=None)
            if (response := self._apply_prompt(request, credentials)) is not None:
                return response
            if (response := self._require_strength(request, credentials["request"])) is not None:
                return response
        return super().dispatch(request, *args, **kwargs)

    def validate_authorization_request(self, request):
        """oauthlib's validation plus AUTHORIZATION_REQUEST_CHECKS, once per request (dispatch
        asks before the sign-in, DOT's ``get`` again after it)."""
        if self._validated is None:
            scopes, credentials = super().validate_authorization_request(request)
            try:
                for check in AUTHORIZATION_REQUEST_CHECKS:
                    check(request.GET, credentials["request"])
            except OAuth2Error as error:
                raise OAuthToolkitError(error=error) from error
            self._validated = scopes, credentials
        return self._validated

    def _apply_prompt(self, request, credentials) -> HttpResponse | None:
        """OpenID Connect Core 3.1.2.1 on a request found valid: ``prompt=none`` never shows a
        page, ``prompt=login`` or an exceeded ``max_age`` asks for the password again."""
        prompt = set(request.GET.get("prompt", "").split())
        signed_in = request.user.is_authenticated and not self._max_age_exceeded(request)
        if "none" in prompt:
            if signed_in:
                return None  # consent is judged on the screen's way (render_to_response)
            # Section 3.1.2.6: the client learns that the user has to sign in.
            return self.error_response(OAuthToolkitError(error=LoginRequired(request=credentials["request"])), None)
        if "login" in prompt or (not signed_in and "max_age" in request.GET):
            return self._sign_in_again(request, prompt - {"login"})
        return None  # DOT sends an anonymous user to sign in

    def _sign_in_again(self, request, other_prompts: set[str]) -> HttpResponse:
        """Signs the session out (else the login page would wave it through) and back in. The
        way back drops ``prompt=login`` and ``max_age``: the fresh sign-in satisfies both, and
        asking again would loop (``max_age=0``)."""
        logout(request)
        query = request.GET.copy()
        query.pop("max_age", None)
        query.pop("prompt", None)
        if other_prompts:
            query["prompt"] = " ".join(sorted(other_prompts))
        return redirect_to_login(
            f"{request.path}?{query.urlencode()}", self.get_login_url(), self.get_redirect_field_name()
        )

    def _require_strength(self, request, oauthlib_request) -> HttpResponse | None:
        """A signed-in session weaker than the request needs is stepped up (``prompt=none``
        cannot show those pages: OpenID Connect Core 3.1.2.6's ``interaction_required``).
        Nothing for a session strong enough, nor for an anonymous user: DOT sends them to sign
        in, and they are judged here again on the way back."""
        if not request.user.is_authenticated:
            return None
        required = self._required_acr(request, oauthlib_request.client, oauthlib_request.scopes)
        if strength.satisfies(session_acr(request), required):
            return None
        if "none" in request.GET.get("prompt", "").split():
            error = InteractionRequired(description="The sign-in needs a second factor.", request=oauthlib_request)
            return self.error_response(OAuthToolkitError(error=error), None)
        return self._step_up(request)

    @staticmethod
    def _step_up(request) -> HttpResponse:
        """To prove the session's second factor, or to set one up if the user has none; either
        page comes back to this URL."""
        page = "accounts:second-factor" if has_second_factor(request.user) else "accounts:security"
        return HttpResponseRedirect(f"{reverse(page)}?{urlencode({'next': request.get_full_path()})}")

    @staticmethod
    def _required_acr(request, client: Application, scopes: Sequence[str]) -> str | None:
        """What this request needs: its ``acr_values`` and the requirements of the client and
        of the APIs its scopes and ``resource`` values resolve to (as the code's plan will)."""
        # The query string as sent: dispatch takes ``resource`` out of request.GET.
        resources = QueryDict(request.META.get("QUERY_STRING", "")).getlist("resource")
        try:
            plan = user_token_plan(client, scopes, resources)
        except OAuth2Error:
            # Only a tampered consent form gets here (the GET validated these scopes): the
            # client's own requirement still holds, and DOT refuses the scopes next.
            return required_acr(client=client, resources=(), acr_values=request.GET.get("acr_values"))
        return required_acr(client=client, resources=plan.resources, acr_values=request.GET.get("acr_values"))

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
        """OpenID Connect Core 3.1.2.1: a sign-in older than ``max_age`` seconds must be redone
        (``max_age`` is checked by check_max_age before this runs)."""
        if "max_age" not in request.GET:
            return False
        auth_time = session_auth_time(request)
        return auth_time is None or time.time() - auth_time > int(request.GET["max_age"])

    def error_response(self, error, application, **kwargs) -> HttpResponse:
        """An error that is not fatal arises only after oauthlib matched the client and its
        redirect URI, so the client is known even where DOT passes None; its own schemes then
        judge the redirect (RFC 8252 section 7.3: http on loopback), not DOT's https-only
        default. Fatal errors (bad client or redirect URI) are a page, never a redirect."""
        if application is None and not isinstance(error, FatalClientError):
            application = Application.objects.filter(client_id=error.oauthlib_error.client_id).first()
        return super().error_response(error, application, **kwargs)

    def render_to_response(self, context, **response_kwargs) -> HttpResponse:
        application = context.get("application")
        prompt = set(self.request.GET.get("prompt", "").split())
        if "error" in context:
            context["headline"], context["explanation"] = _PROBLEMS.get(type(context["error"]), BROKEN_LINK)
        elif application is not None:
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
            return self.render_to_response({"error": oauthlib_errors.InvalidClientIdError()}, status=400)
        if form.cleaned_data.get("allow"):
            # Judged again: the session or the requirements may have changed since the screen
            # was shown, and a posted form need not come from a screen at all.
            required = self._required_acr(self.request, application, form.cleaned_data.get("scope", "").split())
            if not strength.satisfies(session_acr(self.request), required):
                return self._step_up(self.request)
        response = super().form_valid(form)
        codes = parse_qs(urlsplit(response.get("Location", "")).query).get("code")
        if codes and form.cleaned_data.get("allow") and remember:
            remember_consent(
                user=self.request.user, application=application, scopes=form.cleaned_data.get("scope", "").split()
            )
        return response

    def redirect(self, redirect_to: str, application) -> HttpResponse:
        """Every authorization response leaves through here: the consent screen's, a remembered
        consent's and a first-party client's (``skip_authorization``, which DOT answers without
        the screen). A code in it gets the session's sign-in time (the ID token's auth_time),
        how the session signed in (its amr, and so its acr) and the session's ref (ending the
        session revokes the refresh tokens redeemed from it)."""
        codes = parse_qs(urlsplit(redirect_to).query).get("code")
        if codes and application is not None and self.request.user.is_authenticated:
            auth_time = session_auth_time(self.request)
            Grant.objects.filter(code=codes[-1], application=application).update(
                auth_time=datetime.fromtimestamp(auth_time, tz=UTC) if auth_time is not None else None,
                amr=" ".join(session_methods(self.request)),
                session_ref=current_ref(self.request) or "",
            )
        # RFC 9207: every authorization response, errors included, names its issuer.
        return super().redirect(with_issuer(redirect_to), application)
