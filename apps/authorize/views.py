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

import time
from collections.abc import Sequence
from dataclasses import dataclass
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
from oauthlib.openid.connect.core.exceptions import InvalidRequestURI

from apps.accounts.languages import UI_LOCALES, supported_language
from apps.accounts.sessions import current_ref, session_acr, session_auth_time, session_methods
from apps.authorize.checks import malformed, run_request_checks
from apps.authorize.pushed import (
    claim_pushed_request,
    hold_pushed_request,
    is_pushed_request_uri,
    release_pushed_request,
)
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
)
from apps.protocol.forms import has_control_characters
from apps.protocol.redirects import with_issuer
from apps.resources.services import default_scopes
from apps.tokens.issuance import user_token_plan
from apps.tokens.sign_in import required_acr

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
EXPIRED_LINK = (
    _("This sign-in link has expired"),
    _(
        "The application that sent you here gave you a sign-in link that works only once, "
        "for a short time and in one browser."
    ),
)
_PROBLEMS = {
    InvalidRequestURI: EXPIRED_LINK,
    oauthlib_errors.MissingClientIdError: UNKNOWN_CLIENT,
    oauthlib_errors.InvalidClientIdError: UNKNOWN_CLIENT,
    oauthlib_errors.MissingRedirectURIError: UNKNOWN_REDIRECT,
    oauthlib_errors.InvalidRedirectURIError: UNKNOWN_REDIRECT,
    oauthlib_errors.MismatchingRedirectURIError: UNKNOWN_REDIRECT,
}


@dataclass(frozen=True)
class Pushed:
    """This request's pushed authorization request (RFC 9126 section 4)."""

    request_uri: str
    client_id: str
    # The URL as the browser brought it (client_id and request_uri): where the sign-in and
    # step-up pages send the person back to.
    return_path: str


class ConsentAuthorizationView(AuthorizationView):
    template_name = "consent/authorize.html"
    _validated: tuple | None = None
    _pushed: Pushed | None = None

    def dispatch(self, request, *args, **kwargs) -> HttpResponse:
        # OpenID Connect Core 3.1.2.1: the pages of this request (error pages, consent screen)
        # in the language it asks for; the sign-in page reads it from its ``next``. (The query
        # string: the consent form posts back to this URL.)
        if language := supported_language(request.GET.get(UI_LOCALES, "")):
            translation.activate(language)
        if problem := self._malformed(request):
            return self.render_to_response({"error": InvalidRequest(description=problem)}, status=400)
        # A request_uri of ours (RFC 9126); one by reference to a request object (RFC 9101) is
        # refused with request_uri_not_supported once client and redirect URI are checked.
        if is_pushed_request_uri(request.GET.get("request_uri", "")):
            try:
                self._use_pushed_request(request)
            except InvalidRequestURI as error:
                # Never a redirect: nothing says which redirect URI the request meant.
                return self.render_to_response({"error": error}, status=400)
            if language := supported_language(request.GET.get(UI_LOCALES, "")):
                translation.activate(language)
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

    def _use_pushed_request(self, request) -> None:
        """RFC 9126 section 4: the parameters the client pushed become this request's query,
        for this view and for oauthlib (which reads the URL, as the validator reads
        ``resource`` and ``dpop_jkt`` there); any other parameter in the URL is ignored.
        Raises ``invalid_request_uri``."""
        client_id = request.GET.get("client_id")
        request_uri = request.GET["request_uri"]
        parameters = claim_pushed_request(session=request.session, client_id=client_id, request_uri=request_uri)
        self._pushed = Pushed(request_uri=request_uri, client_id=client_id, return_path=request.get_full_path())
        query = urlencode(parameters)
        request.META["QUERY_STRING"] = query
        request.GET = QueryDict(query)

    def validate_authorization_request(self, request):
        """oauthlib's validation plus AUTHORIZATION_REQUEST_CHECKS, once per request (dispatch
        asks before the sign-in, DOT's ``get`` again after it)."""
        if self._validated is None:
            scopes, credentials = super().validate_authorization_request(request)
            try:
                run_request_checks(request.GET, credentials["request"])
                self._check_pushed_if_required(credentials["request"])
            except OAuth2Error as error:
                raise OAuthToolkitError(error=error) from error
            self._validated = scopes, credentials
        return self._validated

    def _check_pushed_if_required(self, oauthlib_request) -> None:
        """RFC 9126 section 5: a client registered to push its requests gets no code for one
        sent in the URL (its redirect URI is known good by now: the client learns why)."""
        if self._pushed is None and oauthlib_request.client.require_pushed_authorization_requests:
            raise InvalidRequest(
                description="This client must push its authorization requests (RFC 9126).", request=oauthlib_request
            )

    def _return_path(self, request) -> str:
        """Where pages on the way (sign-in, step-up) send the person back to: this URL as the
        browser brought it."""
        return self._pushed.return_path if self._pushed is not None else request.get_full_path()

    def handle_no_permission(self) -> HttpResponse:
        # DOT sends the person to sign in with this request's URL, which for a pushed request
        # is client_id and request_uri (the parameters wait in the session), never the
        # parameters themselves. (prompt=none and prompt=login were answered in dispatch.)
        if self._pushed is None:
            return super().handle_no_permission()
        return redirect_to_login(self._pushed.return_path, self.get_login_url(), self.get_redirect_field_name())

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
        query = QueryDict(request.META.get("QUERY_STRING", ""), mutable=True)
        query.pop("max_age", None)
        query.pop("prompt", None)
        if other_prompts:
            query["prompt"] = " ".join(sorted(other_prompts))
        if self._pushed is None:
            next_path = f"{request.path}?{query.urlencode()}"
        else:
            # logout() emptied the session: the parameters go back into the new one.
            parameters = [(name, value) for name, values in query.lists() for value in values]
            hold_pushed_request(
                session=request.session,
                request_uri=self._pushed.request_uri,
                client_id=self._pushed.client_id,
                parameters=parameters,
            )
            next_path = self._pushed.return_path
        return redirect_to_login(next_path, self.get_login_url(), self.get_redirect_field_name())

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

    def _step_up(self, request) -> HttpResponse:
        """To prove the session's second factor, or to set one up if the user has none; either
        page comes back to this URL."""
        page = "accounts:second-factor" if has_second_factor(request.user) else "accounts:security"
        return HttpResponseRedirect(f"{reverse(page)}?{urlencode({'next': self._return_path(request)})}")

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
        return malformed(request.GET if request.method == "GET" else request.POST)

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
        if self._pushed is None and application.require_pushed_authorization_requests:
            error = InvalidRequest(description="This client must push its authorization requests (RFC 9126).")
            return self.render_to_response({"error": error}, status=400)
        if self._pushed is not None:
            if application.client_id != self._pushed.client_id:
                return self.render_to_response({"error": InvalidRequestURI()}, status=400)
            self._restate_pushed_request(form, application)
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

    def _restate_pushed_request(self, form, application: Application) -> None:
        """RFC 9126 section 4: for a pushed request the pushed parameters are the request. The
        consent form's hidden fields only restate them, and the browser that posts the form
        could change any of them (a wider ``scope``, another ``redirect_uri``, ``state`` or
        ``code_challenge``); so every field of the form but the person's decision is taken
        from the pushed parameters (this request's query, ``_use_pushed_request``), never
        from the post: all of the form's fields, not a list that a new field could miss."""
        pushed = self.request.GET
        for name in form.fields:
            if name != "allow":
                # ``resource`` comes out None (dispatch takes it out of request.GET): the
                # validator reads it, and ``dpop_jkt``, from the pushed query string itself.
                form.cleaned_data[name] = pushed.get(name)
        if not form.cleaned_data.get("scope"):
            # No scope pushed: the client's default scopes, as oauthlib took them for the
            # screen (OAuth2Validator.get_default_scopes).
            form.cleaned_data["scope"] = " ".join(default_scopes(application.allowed_scope_objects()))

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
        if self._pushed is not None:
            # The response is on its way to the client: the pushed request is over (RFC 9126
            # section 4, one-time use), in this browser too.
            release_pushed_request(session=self.request.session, request_uri=self._pushed.request_uri)
        # RFC 9207: every authorization response, errors included, names its issuer.
        return super().redirect(with_issuer(redirect_to), application)
