"""Users and lockout records in the operator console (the policy: apps/console/policy.py)."""

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils.html import format_html

from apps.console.policy import model_permission

User = get_user_model()

# Who may grant privileges: only a superuser. Django's UserAdmin lets anyone holding "change
# user" edit these, so a helpdesk operator could make themselves a superuser.
PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


class UserAdmin(DjangoUserAdmin):
    # The password hash is a secret (apps/console/policy.py): in its place, whether one is set
    # and the link to set a new one.
    assert DjangoUserAdmin.fieldsets is not None  # Django's declares them; the stubs say optional
    fieldsets = ((None, {"fields": ("username", "password_status")}), *DjangoUserAdmin.fieldsets[1:])

    @staticmethod
    def _another_operator(request, user) -> bool:
        """An operator account (staff or superuser) is changed, given a password or deleted
        by superusers only: otherwise whoever may change users could set an administrator's
        password or email and take the account over (the password form asks has_change too)."""
        return user is not None and (user.is_staff or user.is_superuser) and not request.user.is_superuser

    def has_change_permission(self, request, obj=None) -> bool:
        return not self._another_operator(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not self._another_operator(request, obj) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj), "password_status"]
        if not request.user.is_superuser:
            readonly += PRIVILEGE_FIELDS
        return readonly

    @admin.display(description="password")
    def password_status(self, user) -> str:
        state = "set" if user.has_usable_password() else "not set (the user cannot sign in with a password)"
        link = reverse("admin:auth_user_password_change", args=[user.pk])
        return format_html('{} · <a href="{}">Set a new password</a>', state, link)


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
        for attempt in queryset:
            self.log_change(request, attempt, f"Unlocked {attempt.username} from {attempt.ip_address}.")
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
