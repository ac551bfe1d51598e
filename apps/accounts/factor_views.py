"""The second factor's pages: the sign-in's second step and step-up
(``accounts:second-factor``), passkey ceremonies (JSON for static/accounts/passkeys.js), and
the security page where a person enrols and removes factors (``accounts:security``)."""

import json
import re
import time
from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from apps.accounts import second_step
from apps.accounts.second_step import safe_next
from apps.accounts.sessions import session_acr, signed_in_with, stepped_up
from apps.factors import passkeys, recovery, totp
from apps.factors.errors import FactorError
from apps.factors.models import Passkey
from apps.factors.services import has_second_factor
from apps.protocol import strength

# A passwordless sign-in checks no password: the account backend signs the person in.
PASSKEY_BACKEND = "django.contrib.auth.backends.ModelBackend"
# Recovery codes just made, shown once by the security page's next view and then forgotten.
FRESH_CODES_KEY = "idp_fresh_recovery_codes"
# The authenticator app this session is setting up: only the session that started it sees its
# secret and confirms it (another session, a stolen one say, could otherwise read the secret
# of a set-up the owner is about to confirm).
ENROLLING_KEY = "idp_totp_enrolling"
# Set once the password (and, for a further factor, the session's second factor) allowed a
# passkey registration: bound to that ceremony's challenge, single use, as short-lived.
PASSKEY_REGISTRATION_KEY = "idp_passkey_registration_allowed"
# The passkey endpoints' JSON is a few kilobytes; more is refused before it is parsed.
MAX_JSON_BYTES = 64 * 1024
# A database id as a form sends it: ASCII digits only (str.isdigit() also takes "²", which
# int() refuses), and short enough for a 64-bit key.
DATABASE_ID = re.compile(r"[0-9]{1,18}")


def with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def security_url(next_url: str = "") -> str:
    return with_next(reverse("accounts:security"), next_url)


def _account_url() -> str:
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _json_error(message: str, status: int = 400, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    if len(request.body) > MAX_JSON_BYTES:
        return None
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: deep nesting
        return None
    return body if isinstance(body, dict) else None


def _ceremony(body: dict[str, Any]) -> passkeys.Ceremony | None:
    value = body.get("ceremony")
    if value in (passkeys.Ceremony.SECOND_FACTOR, passkeys.Ceremony.PASSWORDLESS):
        return passkeys.Ceremony(value)
    return None


@method_decorator([never_cache, sensitive_post_parameters("code")], name="dispatch")
class SecondFactorView(View):
    """/accounts/login/second-factor/?next=...: the sign-in's second step (after a correct
    password, for a person who has a factor), or a step-up of a signed-in session (only the
    factor is asked). A signed-in person without a factor is sent to set one up."""

    template_name = "accounts/second_factor.html"

    def _context(self, request: HttpRequest, user: Any, next_url: str, **extra: Any) -> dict[str, Any]:
        return {
            "step_up": request.user.is_authenticated,
            "has_app": totp.authenticator_app(user) is not None,
            "has_passkey": Passkey.objects.filter(user=user).exists(),
            "passkeys_available": passkeys.relying_party() is not None,
            "next": next_url,
            **extra,
        }

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        next_url = safe_next(request, request.GET.get("next"))
        if request.user.is_authenticated:
            if not has_second_factor(request.user):
                return redirect(security_url(next_url))
            return super().dispatch(request, *args, **kwargs)
        if second_step.pending(request) is None:
            messages.error(request, gettext("Your sign-in has expired. Please enter your password again."))
            return redirect(with_next(reverse("accounts:login"), next_url))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        sign_in = second_step.pending(request)
        user = sign_in.user if sign_in else request.user
        next_url = sign_in.next_url if sign_in else safe_next(request, request.GET.get("next"))
        return render(request, self.template_name, self._context(request, user, next_url))

    def post(self, request: HttpRequest) -> HttpResponse:
        sign_in = second_step.pending(request)
        user = sign_in.user if sign_in else request.user
        next_url = sign_in.next_url if sign_in else safe_next(request, request.GET.get("next"))
        method = request.POST.get("method")
        code = request.POST.get("code", "")
        if sign_in is not None and not second_step.answering(request, sign_in):
            messages.error(request, gettext("Too many wrong answers. Please sign in again."))
            return redirect(with_next(reverse("accounts:login"), next_url))
        try:
            if method == "totp":
                totp.verify(user, code)
            elif method == "recovery":
                recovery.use_recovery_code(user, code)
            else:
                raise FactorError("method", gettext("Choose how to confirm it is you."))
        except FactorError as error:
            if sign_in is not None and not second_step.failed(request, sign_in):
                messages.error(request, gettext("Too many wrong answers. Please sign in again."))
                return redirect(with_next(reverse("accounts:login"), next_url))
            context = self._context(request, user, next_url, error=error.message, method=method)
            return render(request, self.template_name, context, status=400)
        if sign_in is not None:
            return redirect(second_step.finish(request, sign_in, [strength.PASSWORD, strength.ONE_TIME_CODE]))
        stepped_up(request, strength.ONE_TIME_CODE)
        return redirect(next_url or _account_url())


class PasskeyAuthenticationOptionsView(View):
    """POST {"ceremony": "second-factor" | "passwordless"}: the options for
    ``navigator.credentials.get()``."""

    def post(self, request: HttpRequest) -> HttpResponse:
        body = _json_body(request)
        ceremony = _ceremony(body) if body is not None else None
        if ceremony is None:
            return _json_error(gettext("The request was not understood."))
        user = None
        if ceremony == passkeys.Ceremony.SECOND_FACTOR:
            sign_in = second_step.pending(request)
            user = sign_in.user if sign_in else request.user if request.user.is_authenticated else None
            if user is None:
                return _json_error(gettext("Your sign-in has expired. Please enter your password again."))
        try:
            options = passkeys.authentication_options(session=request.session, ceremony=ceremony, user=user)
        except FactorError as error:
            return _json_error(error.message)
        return HttpResponse(options, content_type="application/json")


class PasskeyAuthenticateView(View):
    """POST {"ceremony", "credential", "next", "remember_me"}: a passkey signs the person in
    (passwordless), completes the sign-in's second step, or steps a session up. Answers
    {"redirect": where to go} or {"error": why}."""

    def post(self, request: HttpRequest) -> HttpResponse:
        body = _json_body(request)
        ceremony = _ceremony(body) if body is not None else None
        if body is None or ceremony is None or "credential" not in body:
            return _json_error(gettext("The request was not understood."))
        if ceremony == passkeys.Ceremony.PASSWORDLESS:
            return self._passwordless(request, body)
        sign_in = second_step.pending(request)
        if sign_in is not None:
            return self._second_step(request, body, sign_in)
        if request.user.is_authenticated:
            return self._step_up(request, body)
        return _json_error(
            gettext("Your sign-in has expired. Please enter your password again."), redirect=reverse("accounts:login")
        )

    def _passwordless(self, request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
        try:
            use = passkeys.authenticate(
                session=request.session, ceremony=passkeys.Ceremony.PASSWORDLESS, credential=body["credential"]
            )
        except FactorError as error:
            return _json_error(error.message)
        second_step.abandon(request)
        login(request, use.passkey.user, backend=PASSKEY_BACKEND)
        signed_in_with(request, use.methods)
        second_step.keep_signed_in(request, body.get("remember_me") is True)
        return JsonResponse({"redirect": safe_next(request, _text(body.get("next"))) or _account_url()})

    def _second_step(
        self, request: HttpRequest, body: dict[str, Any], sign_in: second_step.PendingSignIn
    ) -> HttpResponse:
        too_many = gettext("Too many wrong answers. Please sign in again.")
        if not second_step.answering(request, sign_in):
            return _json_error(too_many, redirect=with_next(reverse("accounts:login"), sign_in.next_url))
        try:
            use = passkeys.authenticate(
                session=request.session,
                ceremony=passkeys.Ceremony.SECOND_FACTOR,
                credential=body["credential"],
                user=sign_in.user,
            )
        except FactorError as error:
            if not second_step.failed(request, sign_in):
                return _json_error(too_many, redirect=with_next(reverse("accounts:login"), sign_in.next_url))
            return _json_error(error.message)
        return JsonResponse({"redirect": second_step.finish(request, sign_in, [strength.PASSWORD, *use.methods])})

    def _step_up(self, request: HttpRequest, body: dict[str, Any]) -> HttpResponse:
        try:
            use = passkeys.authenticate(
                session=request.session,
                ceremony=passkeys.Ceremony.SECOND_FACTOR,
                credential=body["credential"],
                user=request.user,
            )
        except FactorError as error:
            return _json_error(error.message)
        stepped_up(request, use.methods[0])
        return JsonResponse({"redirect": safe_next(request, _text(body.get("next"))) or _account_url()})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --- The security page ------------------------------------------------------------------


@method_decorator(never_cache, name="dispatch")
class SecurityView(LoginRequiredMixin, View):
    """/accounts/security/?next=...: the person's authenticator app, passkeys and recovery
    codes. With ``next`` (from an authorization request that asked for a stronger sign-in),
    a "Continue" link leads back once a factor is set up."""

    template_name = "accounts/security.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render_security(request)


def _needs_step_up(request: HttpRequest) -> bool:
    """Whether this session must prove one of the person's factors before adding another."""
    return has_second_factor(request.user) and session_acr(request) != strength.ACR_MFA


def _enrolling(request: HttpRequest) -> Any:
    """The authenticator app this session is setting up (not one another session started)."""
    device = totp.pending_enrolment(request.user)
    return device if device is not None and device.pk == request.session.get(ENROLLING_KEY) else None


def render_security(request: HttpRequest, *, errors: dict[str, str] | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    assert user.is_authenticated  # LoginRequiredMixin
    app = totp.authenticator_app(user)
    enrolling = None if app else _enrolling(request)
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    context = {
        "app": app,
        "enrolling": enrolling,
        "qr_code": totp.qr_code_svg(enrolling) if enrolling else "",
        "secret": totp.secret_for_typing(enrolling) if enrolling else "",
        "passkeys": Passkey.objects.filter(user=user),
        "passkeys_available": passkeys.relying_party() is not None,
        "has_factor": has_second_factor(user),
        "needs_step_up": _needs_step_up(request),
        # Back here after the step-up, keeping the way back to the app that asked.
        "step_up_url": with_next(reverse("accounts:second-factor"), security_url(next_url)),
        "recovery_left": recovery.recovery_codes_left(user),
        "fresh_codes": request.session.pop(FRESH_CODES_KEY, None),
        "next": next_url,
        "errors": errors or {},
    }
    return render(request, SecurityView.template_name, context, status=status)


@sensitive_variables("password")
def check_password(request: HttpRequest, password: Any) -> None:
    """The signed-in person's password, checked through the authentication backends: wrong
    guesses count towards the lockout (django-axes) as at the sign-in."""
    if not isinstance(password, str) or not password:
        raise FactorError("password", gettext("Enter your password to confirm."))
    user = authenticate(request, username=request.user.get_username(), password=password)
    if user is None or user.pk != request.user.pk:
        raise FactorError("password", gettext("That password is not correct. Nothing was changed."))


def first_or_stepped_up(request: HttpRequest) -> bool:
    """Whether the person's next factor is their first; if it is not, this session must have
    proved one of their factors already (raises otherwise)."""
    if not has_second_factor(request.user):
        return True
    if session_acr(request) != strength.ACR_MFA:
        raise FactorError(
            "step_up",
            gettext("You already have a second factor. Confirm it is you with it first, then add another."),
        )
    return False


@sensitive_variables("password")
def allow_new_factor(request: HttpRequest, password: Any) -> bool:
    """May this session add a second factor? A factor outlives a password change and raises
    the sessions that prove it, so a session left open is not enough: the password is asked,
    and a person who already has a factor must have proved one in this session. Returns
    whether the new factor is their first; raises :class:`FactorError` otherwise."""
    first = first_or_stepped_up(request)
    check_password(request, password)
    return first


def enrolled(request: HttpRequest, method: str, codes: list[str], *, first: bool) -> None:
    """A factor was set up in this session. The first one counts as a step-up (the password
    was just checked and the factor proved), which lets a person asked for a stronger sign-in
    set one up and continue; a further one leaves the session as it was (already stepped up).
    The first factor's recovery codes are shown once."""
    if first:
        stepped_up(request, method)
    if codes:
        request.session[FRESH_CODES_KEY] = codes


@method_decorator(sensitive_post_parameters("password", "code"), name="dispatch")
class SecurityActionView(LoginRequiredMixin, View, ABC):
    """One change on the security page (POST only): done, it goes back to the page (keeping
    ``next``); refused, the page says why (status 400) and nothing changed."""

    section = ""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            self.act(request)
        except FactorError as error:
            return render_security(request, errors={self.section: error.message}, status=400)
        return redirect(security_url(safe_next(request, request.POST.get("next"))) + f"#{self.section}")

    @abstractmethod
    def act(self, request: HttpRequest) -> None: ...

    def check_password(self, request: HttpRequest) -> None:
        """Removing a factor or renewing codes asks for the account's password: a session
        left open is not enough to weaken the account."""
        check_password(request, request.POST.get("password", ""))


class TotpBeginView(SecurityActionView):
    section = "app"

    def act(self, request: HttpRequest) -> None:
        first_or_stepped_up(request)  # the password comes with the first code
        device = totp.begin_enrolment(request.user)
        request.session[ENROLLING_KEY] = device.pk


class TotpConfirmView(SecurityActionView):
    section = "app"

    def act(self, request: HttpRequest) -> None:
        if _enrolling(request) is None:
            raise FactorError("no_enrolment", gettext("Start setting up the authenticator app first."))
        first = allow_new_factor(request, request.POST.get("password", ""))
        codes = totp.confirm_enrolment(request.user, request.POST.get("code", ""))
        request.session.pop(ENROLLING_KEY, None)
        enrolled(request, strength.ONE_TIME_CODE, codes, first=first)
        messages.success(request, gettext("Your authenticator app is set up."))


class TotpRemoveView(SecurityActionView):
    section = "app"

    def act(self, request: HttpRequest) -> None:
        self.check_password(request)
        totp.remove(request.user)
        messages.success(request, gettext("Your authenticator app is removed."))


class PasskeyRemoveView(SecurityActionView):
    section = "passkeys"

    def act(self, request: HttpRequest) -> None:
        self.check_password(request)
        passkey_id = request.POST.get("passkey", "")
        if not DATABASE_ID.fullmatch(passkey_id):
            raise FactorError("unknown", gettext("That passkey does not exist."))
        passkeys.remove(user=request.user, passkey_id=int(passkey_id))
        messages.success(request, gettext("The passkey is removed."))


class RecoveryCodesView(SecurityActionView):
    section = "recovery"

    def act(self, request: HttpRequest) -> None:
        self.check_password(request)
        if not has_second_factor(request.user):
            raise FactorError("none", gettext("Recovery codes come with a second factor: set one up first."))
        request.session[FRESH_CODES_KEY] = recovery.generate_recovery_codes(request.user)
        messages.success(request, gettext("New recovery codes are made. The old ones no longer work."))


class SignedInJsonMixin:
    """JSON endpoints for a signed-in person: 403 JSON for anyone else (no sign-in page)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return _json_error(gettext("Please sign in first."), status=403)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]  # a View's, by composition


class PasskeyRegistrationOptionsView(SignedInJsonMixin, View):
    """POST {"password"}: the options for ``navigator.credentials.create()``, once
    :func:`allow_new_factor` allows a new factor; the registration that follows is allowed
    once, with this challenge, for as long as the challenge lives."""

    # A JSON body is not request.POST: sensitive_post_parameters cannot hide it from an error
    # report, but the variables that hold it can be.
    @method_decorator(sensitive_variables("body"))
    def post(self, request: HttpRequest) -> HttpResponse:
        body = _json_body(request)
        if body is None:
            return _json_error(gettext("The request was not understood."))
        request.session.pop(PASSKEY_REGISTRATION_KEY, None)
        try:
            first = allow_new_factor(request, body.get("password"))
            options = passkeys.registration_options(user=request.user, session=request.session)
        except FactorError as error:
            return _json_error(error.message)
        request.session[PASSKEY_REGISTRATION_KEY] = {
            "challenge": json.loads(options)["challenge"],
            "expires": time.time() + passkeys.CHALLENGE_SECONDS,
            "first": first,
        }
        return HttpResponse(options, content_type="application/json")


class PasskeyRegisterView(SignedInJsonMixin, View):
    """POST {"name", "credential", "next"}: keep the new passkey. Answers {"redirect"} (the
    security page) or {"error"}."""

    def post(self, request: HttpRequest) -> HttpResponse:
        body = _json_body(request)
        if body is None or "credential" not in body:
            return _json_error(gettext("The request was not understood."))
        allowed = request.session.pop(PASSKEY_REGISTRATION_KEY, None)  # single use, good or bad
        if not allowed or allowed["expires"] < time.time():
            return _json_error(gettext("Enter your password and add the passkey again."))
        try:
            passkey, codes = passkeys.register(
                user=request.user,
                session=request.session,
                credential=body["credential"],
                name=_text(body.get("name")),
                challenge=allowed["challenge"],
            )
        except FactorError as error:
            return _json_error(error.message)
        method = strength.SOFTWARE_KEY if passkey.backed_up else strength.HARDWARE_KEY
        enrolled(request, method, codes, first=allowed["first"])
        messages.success(request, gettext("Your passkey is added."))
        # No fragment: the browser would only scroll, not load the page that lists the passkey.
        return JsonResponse({"redirect": security_url(safe_next(request, _text(body.get("next"))))})
