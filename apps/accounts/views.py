"""The people's pages: sign-in and sign-out, the home page, the account (profile, password,
sessions, connected apps) and the password reset."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse, reverse_lazy
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext, ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView

from apps.accounts import second_step
from apps.accounts.factor_views import DATABASE_ID, with_next
from apps.accounts.forms import LoginForm, PasswordChangeForm, ProfileForm, RegistrationForm
from apps.accounts.languages import authorization_request_language
from apps.accounts.password_reset import mail_reset_links
from apps.accounts.registration import MailNotSent, confirm, prune_expired, register, verification_tokens
from apps.accounts.sessions import current_ref, end_sessions, live_sessions, rekeyed, revoke_refresh_tokens
from apps.audit import services as audit
from apps.consent.models import Consent
from apps.consent.services import group_scopes, revoke_consent
from apps.factors.passkeys import relying_party
from apps.factors.services import has_second_factor
from apps.oauth.models import Application
from idp.conf import idp_settings


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        # The sign-in page of an authorization request speaks the language it asked for
        # (ui_locales in ``next``, which is that request's URL): apps/accounts/languages.py.
        if language := authorization_request_language(self.get_redirect_url()):
            translation.activate(language)
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "app_name": requesting_app(self.get_redirect_url()),
            "registration_open": idp_settings.SELF_REGISTRATION,
            "passkeys_available": relying_party() is not None,
        }

    def form_valid(self, form) -> HttpResponse:
        user, remember_me = form.get_user(), bool(form.cleaned_data.get("remember_me"))
        if has_second_factor(user):
            # Not signed in yet: the second step completes the sign-in (apps/accounts/second_step.py).
            next_url = self.get_redirect_url()
            second_step.begin(self.request, user=user, remember_me=remember_me, next_url=next_url)
            return redirect(with_next(reverse("accounts:second-factor"), next_url))
        response = super().form_valid(form)
        second_step.keep_signed_in(self.request, remember_me)
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
        pk = int(consent_id) if DATABASE_ID.fullmatch(consent_id) else None
        consent = get_object_or_404(Consent, pk=pk, user=request.user)
        revoke_consent(user=request.user, application=consent.application)
        return redirect("accounts:connected-apps")


class AccountView(LoginRequiredMixin, TemplateView):
    """/accounts/: the person's own page: profile, password, sessions, connected apps, and
    the security settings (second factors will live there)."""

    template_name = "accounts/account.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        assert user.is_authenticated  # LoginRequiredMixin
        return {
            "form": ProfileForm(instance=user),
            "apps_count": Consent.objects.filter(user=user).count(),
            "sessions_count": len(live_sessions(user)),
            "has_second_factor": has_second_factor(user),
            **super().get_context_data(**kwargs),
        }

    def post(self, request: HttpRequest) -> HttpResponse:
        assert request.user.is_authenticated  # LoginRequiredMixin
        form = ProfileForm(request.POST, instance=request.user)
        if not form.is_valid():
            return self.render_to_response({**self.get_context_data(), "form": form}, status=400)
        form.save()
        messages.success(request, gettext("Your profile is saved."))
        return redirect("accounts:account")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's (the current password, then a new one its validators accept); every other
    session of the person is signed out and what it was issued revoked."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:account")
    form_class = PasswordChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form) -> HttpResponse:
        old_key = self.request.session.session_key
        response = super().form_valid(form)  # keeps this session signed in, under a new key
        rekeyed(old_key, self.request.session.session_key)
        ended = end_sessions(self.request.user, keep=current_ref(self.request))
        audit.record_for_user(audit.PASSWORD_CHANGED, self.request.user, sessions_ended=ended)
        if ended:
            text = ngettext(
                "Your password is changed. %(count)d other session signed out.",
                "Your password is changed. %(count)d other sessions signed out.",
                ended,
            ) % {"count": ended}
        else:
            text = gettext("Your password is changed.")
        messages.success(self.request, text)
        return response


class SessionsView(LoginRequiredMixin, TemplateView):
    """Where the person is signed in; sign out one session, or every other one."""

    template_name = "accounts/sessions.html"

    def get_context_data(self, **kwargs):
        assert self.request.user.is_authenticated  # LoginRequiredMixin
        current = current_ref(self.request)
        sessions = sorted(
            live_sessions(self.request.user), key=lambda row: (row.ref != current, -row.last_seen.timestamp())
        )
        return {**super().get_context_data(**kwargs), "sessions": sessions, "current": current}

    def post(self, request: HttpRequest) -> HttpResponse:
        assert request.user.is_authenticated  # LoginRequiredMixin
        current = current_ref(request)
        if "others" in request.POST:
            ended = end_sessions(request.user, keep=current)
            text = ngettext(
                "Signed out everywhere else (%(count)d session).",
                "Signed out everywhere else (%(count)d sessions).",
                ended,
            )
            messages.success(request, text % {"count": ended})
            return redirect("accounts:sessions")
        ref = request.POST.get("session", "")
        if ref and ref == current:
            end_sessions(request.user, refs=[ref])
            logout(request)
            return redirect("accounts:signed-out")
        if not end_sessions(request.user, refs=[ref]):
            raise Http404("No such session.")
        messages.success(request, gettext("That session is signed out."))
        return redirect("accounts:sessions")


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an email address and answers the same whether or not an account has it;
    a mail with a single-use link goes to each active account that does."""

    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password-reset-sent")

    def form_valid(self, form) -> HttpResponse:
        mail_reset_links(form, request=self.request, token_generator=self.token_generator, from_email=self.from_email)
        # One event per account mailed; one without a subject when the address matched none.
        mailed = list(form.get_users(form.cleaned_data["email"]))
        for user in mailed:
            audit.record_for_user(audit.PASSWORD_RESET_REQUESTED, user)
        if not mailed:
            audit.record(event_type=audit.PASSWORD_RESET_REQUESTED, granted=False, details={"accounts": 0})
        return redirect(self.get_success_url())


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The link from the mail: a new password (Django's validators). A link that expired, was
    used, or was never valid says so and changes nothing. A reset signs the person out
    everywhere and revokes every refresh token they hold: whoever knew the old password may
    have used it."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-complete")

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        end_sessions(form.user)
        revoke_refresh_tokens(user=form.user)
        audit.record_for_user(audit.PASSWORD_RESET, form.user)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class RegistrationOpenMixin:
    """Self-registration is an operator's switch (IDP["SELF_REGISTRATION"]); off, its pages
    do not exist."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        if not idp_settings.SELF_REGISTRATION:
            raise Http404("Self-registration is off.")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]  # a View's, by composition


@method_decorator(sensitive_post_parameters("password1", "password2"), name="dispatch")
class RegisterView(RegistrationOpenMixin, FormView):
    template_name = "accounts/register.html"
    form_class = RegistrationForm
    success_url = reverse_lazy("accounts:register-sent")

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        prune_expired()  # an unconfirmed registration past its link's life frees its name and address
        return super().post(request, *args, **kwargs)

    def form_valid(self, form) -> HttpResponse:
        data = form.cleaned_data
        try:
            register(username=data["username"], email=data["email"], password=data["password1"])
        except MailNotSent:
            form.add_error(
                None, gettext("We could not send the confirmation mail. Nothing was saved: please try again later.")
            )
            return self.render_to_response(self.get_context_data(form=form), status=503)
        return redirect(self.get_success_url())


class RegisterSentView(RegistrationOpenMixin, TemplateView):
    template_name = "accounts/register_sent.html"


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class RegisterVerifyView(RegistrationOpenMixin, TemplateView):
    """The link from the mail. Following it is not enough: the person also enters the password
    the account was created with. Otherwise whoever registered someone else's address first
    (with a password of their choosing) would get an account the moment its owner followed the
    link out of curiosity. An expired, used or made-up link says so and changes nothing."""

    template_name = "accounts/register_verify.html"

    def _waiting_account(self, uidb64: str, token: str) -> Any:
        try:
            pk = urlsafe_base64_decode(uidb64).decode()
            user = get_user_model()._default_manager.get(pk=pk, is_active=False)
        except (ValueError, OverflowError, get_user_model().DoesNotExist):
            return None
        return user if verification_tokens.check_token(user, token) else None

    def get(self, request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
        if self._waiting_account(uidb64, token) is None:
            return self.render_to_response({"state": "invalid"}, status=400)
        return self.render_to_response({"state": "confirm"})

    def post(self, request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
        user = self._waiting_account(uidb64, token)
        if user is None:
            return self.render_to_response({"state": "invalid"}, status=400)
        if not user.check_password(request.POST.get("password", "")):
            return self.render_to_response({"state": "confirm", "wrong_password": True}, status=400)
        confirm(user)
        return self.render_to_response({"state": "ready"})
