"""Users and lockout records in the operator console (the policy: apps/console/policy.py).

A person's page also shows their sessions, consents, tokens (with lineage), second factors and
lockout, and offers the operator's actions on the account (apps/accounts/operator_actions.py):
unlock, disable, sign out everywhere, reset second factors, mail a password-reset link. Each is
an admin action declaring its permission (change user), so the console's policy and its tests
enumerate them; the page's buttons post it for this one person, and the destructive ones ask
for confirmation first."""

from collections.abc import Callable
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from apps.accounts import operator_actions
from apps.accounts.operator_actions import ActionRefused
from apps.audit.services import record
from apps.console.policy import model_permission

User = get_user_model()

# Who may grant privileges: only a superuser. Django's UserAdmin lets anyone holding "change
# user" edit these, so a helpdesk operator could make themselves a superuser.
PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")

# The actions on a person, in the order the page offers them: (name, whether it asks first).
PERSON_ACTIONS = {
    "unlock_sign_in": False,
    "send_password_reset": False,
    "sign_out_everywhere": True,
    "reset_second_factors": True,
    "disable_account": True,
}

# What a destructive action does, said on its confirmation page.
CONSEQUENCES = {
    "sign_out_everywhere": (
        "Every browser session of these people ends, and every token their apps hold for them is revoked "
        "(access and refresh tokens, with the tokens exchanged from them). They can sign in again."
    ),
    "reset_second_factors": (
        "Their authenticator app, passkeys and recovery codes are removed and their sessions end. They sign in "
        "with their password alone until they set up a new factor."
    ),
    "disable_account": (
        "These accounts are disabled: they can no longer sign in, every session ends and every token their apps "
        "hold for them is revoked, at once. Re-enable an account by ticking “active” on its page."
    ),
}


class UserAdmin(DjangoUserAdmin):
    # The password hash is a secret (apps/console/policy.py): in its place, whether one is set
    # and the link to set a new one.
    assert DjangoUserAdmin.fieldsets is not None  # Django's declares them; the stubs say optional
    fieldsets = ((None, {"fields": ("username", "password_status")}), *DjangoUserAdmin.fieldsets[1:])
    change_form_template = "admin/auth/user/change_form.html"
    confirmation_template = "admin/auth/user/confirm_action.html"
    actions = list(PERSON_ACTIONS)

    @staticmethod
    def _another_operator(request, user) -> bool:
        """An operator account (staff or superuser) is changed, given a password or deleted
        by superusers only: otherwise whoever may change users could set an administrator's
        password or email and take the account over (the password form asks has_change too)."""
        return user is not None and not operator_actions.may_act_on(operator=request.user, user=user)

    def has_change_permission(self, request, obj=None) -> bool:
        return not self._another_operator(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not self._another_operator(request, obj) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj), "password_status"]
        if not request.user.is_superuser:
            readonly += PRIVILEGE_FIELDS
        if obj is not None and obj.pk == request.user.pk:
            readonly.append("is_active")  # nobody disables their own account
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "is_active" in form.base_fields:
            form.base_fields[
                "is_active"
            ].help_text = (
                "Untick to disable the account: on saving, its sessions end and every token its apps hold is revoked."
            )
        return form

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        # Unticking "active" disables the account as the action does: sessions end and tokens
        # are revoked with it (a disabled account's leftovers would otherwise linger).
        if change and "is_active" in form.changed_data and not obj.is_active:
            revoked = operator_actions.disable(operator=request.user, user=obj)
            self.message_user(request, f"Account “{obj}”: Disabled: {_revoked_text(revoked)}", messages.SUCCESS)

    @admin.display(description="password")
    def password_status(self, user) -> str:
        state = "set" if user.has_usable_password() else "not set (the user cannot sign in with a password)"
        link = reverse("admin:auth_user_password_change", args=[user.pk])
        return format_html('{} · <a href="{}">Set a new password</a>', state, link)

    # --- the person's page --------------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            offered = self.get_actions(request)
            may_act = operator_actions.may_act_on(operator=request.user, user=obj)
            context = {
                **context,
                "account": operator_actions.account_overview(obj),
                "person_actions": [name for name in PERSON_ACTIONS if may_act and name in offered],
                "is_self": obj.pk == request.user.pk,
                "lockout_limit": settings.AXES_FAILURE_LIMIT,
            }
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- the actions --------------------------------------------------------------------------

    def _run(
        self, request, queryset, action: str, service: Callable[..., Any], done: Callable[[Any, Any], str]
    ) -> HttpResponse | None:
        """Run ``service`` for each selected person (after confirmation, for a destructive
        action), saying what happened or why not. One person: back to their page."""
        people = list(queryset)
        if not people:
            self.message_user(request, "No such account.", messages.WARNING)
            return None
        if PERSON_ACTIONS[action] and request.POST.get("post") != "yes":
            return self._confirmation(request, people, action)
        for person in people:
            try:
                result = service(operator=request.user, user=person)
            except ActionRefused as refusal:
                self.message_user(request, f"Account “{person}”: {refusal}", messages.ERROR)
                continue
            text = done(person, result)
            self.log_change(request, person, text)
            self.message_user(request, f"Account “{person}”: {text}", messages.SUCCESS)
        if len(people) == 1:
            return HttpResponseRedirect(reverse("admin:auth_user_change", args=[people[0].pk]))
        return None

    def _confirmation(self, request, people: list[Any], action: str) -> TemplateResponse:
        description = str(getattr(getattr(self, action), "short_description", action))  # set by @admin.action
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{description}: are you sure?",
            "description": description,
            "consequences": CONSEQUENCES[action],
            "people": people,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, self.confirmation_template, context)

    @admin.action(permissions=["change"], description="Unlock sign-in (forget failed sign-ins)")
    def unlock_sign_in(self, request, queryset) -> HttpResponse | None:
        return self._run(
            request, queryset, "unlock_sign_in", operator_actions.unlock,
            lambda person, cleared: f"Unlocked: {cleared} failed sign-in record(s) forgotten.",
        )  # fmt: skip

    @admin.action(permissions=["change"], description="Send a password-reset mail")
    def send_password_reset(self, request, queryset) -> HttpResponse | None:
        return self._run(
            request, queryset, "send_password_reset", operator_actions.send_password_reset,
            lambda person, address: f"A password-reset link was mailed to {address}.",
        )  # fmt: skip

    @admin.action(permissions=["change"], description="Sign out everywhere")
    def sign_out_everywhere(self, request, queryset) -> HttpResponse | None:
        return self._run(
            request, queryset, "sign_out_everywhere", operator_actions.sign_out_everywhere,
            lambda person, revoked: f"Signed out everywhere: {_revoked_text(revoked)}",
        )  # fmt: skip

    @admin.action(permissions=["change"], description="Reset second factors")
    def reset_second_factors(self, request, queryset) -> HttpResponse | None:
        return self._run(
            request, queryset, "reset_second_factors", operator_actions.reset_second_factors,
            lambda person, reset: (
                f"Second factors reset: authenticator app {'removed' if reset.authenticator_app else 'none'}, "
                f"{reset.passkeys} passkey(s) and {reset.recovery_codes} recovery code(s) removed, "
                f"{reset.sessions} session(s) ended."
            ),
        )  # fmt: skip

    @admin.action(permissions=["change"], description="Disable (end sessions, revoke tokens)")
    def disable_account(self, request, queryset) -> HttpResponse | None:
        return self._run(
            request, queryset, "disable_account", operator_actions.disable,
            lambda person, revoked: f"Disabled: {_revoked_text(revoked)}",
        )  # fmt: skip


def _revoked_text(revoked: operator_actions.Revoked) -> str:
    return (
        f"{revoked.sessions} session(s) ended, {revoked.access_tokens} access token(s) and "
        f"{revoked.refresh_tokens} refresh token(s) revoked."
    )


class GroupAdmin(DjangoGroupAdmin):
    """A group is a bundle of privileges: only superusers create, change or delete one (whoever
    may change a group could otherwise give their own group every permission)."""

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


admin.site.unregister(User)
admin.site.register(User, UserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, GroupAdmin)


class LockoutStatusFilter(admin.SimpleListFilter):
    title = "locked out"
    parameter_name = "locked_out"

    def lookups(self, request, model_admin):
        return [("yes", "Locked out"), ("no", "Not locked out")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
        if self.value() == "no":
            return queryset.filter(failures_since_start__lt=settings.AXES_FAILURE_LIMIT)
        return queryset


@admin.register(AccessAttempt)
class AccessAttemptAdmin(admin.ModelAdmin):
    """Failed sign-ins counted toward a lockout (django-axes). Unlocking deletes the count."""

    list_display = ("attempt_time", "username", "ip_address", "path_info", "failures_since_start", "locked_out")
    list_filter = ("attempt_time", LockoutStatusFilter)
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"
    fields = ("username", "ip_address", "user_agent", "path_info", "failures_since_start", "attempt_time")
    actions = ["unlock"]

    @admin.display(boolean=True, description="locked out")
    def locked_out(self, attempt: AccessAttempt) -> bool:
        return attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT

    def has_unlock_permission(self, request) -> bool:
        # Unlocking is what django-axes does by deleting the attempt: "Can delete access attempt".
        return model_permission(request, self.opts, "delete")

    @admin.action(permissions=["unlock"], description="Unlock: forget the selected failed sign-ins")
    def unlock(self, request, queryset) -> None:
        # As on a person's page: an operator account's lockout is lifted by a superuser only
        # (lifting it helps whoever is guessing that account's password).
        accounts = get_user_model()._default_manager.filter(username__in=queryset.values("username"))
        operators = sorted(accounts.filter(Q(is_staff=True) | Q(is_superuser=True)).values_list("username", flat=True))
        if operators and not request.user.is_superuser:
            names = ", ".join(operators)
            message = f"Only a superuser may unlock an operator account ({names}); nothing was unlocked."
            self.message_user(request, message, messages.ERROR)
            return
        for attempt in queryset:
            self.log_change(request, attempt, f"Unlocked {attempt.username} from {attempt.ip_address}.")
            # The same event as the person's page's "unlock", for one address.
            record(
                event_type=operator_actions.UNLOCKED,
                granted=True,
                subject=attempt.username or "",
                details={
                    "operator": request.user.get_username(),
                    "ip_address": attempt.ip_address,
                    "records_cleared": 1,
                },
            )
        count, _ = queryset.delete()
        self.message_user(request, f"Unlocked {count} record(s).")


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(admin.ModelAdmin):
    list_display = ("attempt_time", "username", "ip_address", "path_info", "locked_out")
    list_filter = ("attempt_time", "locked_out")
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"
    fields = ("username", "ip_address", "user_agent", "path_info", "locked_out", "attempt_time")


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    list_display = ("attempt_time", "logout_time", "username", "ip_address", "path_info")
    list_filter = ("attempt_time", "logout_time")
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"
    fields = ("username", "ip_address", "user_agent", "path_info", "attempt_time", "logout_time")
