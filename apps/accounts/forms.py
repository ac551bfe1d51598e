from typing import Any

from django import forms
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm, UsernameField
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables


class LoginForm(AuthenticationForm):
    """Django's login form (fields ``username`` and ``password``, so password managers and
    scripted clients work) with an opt-in "remember me"."""

    remember_me = forms.BooleanField(required=False, label=_("Keep me signed in on this device"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].error_messages["required"] = _("Enter your username.")
        self.fields["password"].error_messages["required"] = _("Enter your password.")
        # Django's form sets the field's max_length after the field made its validators, so a
        # longer name reached authenticate() and django-axes' 255-character column (a 500 on
        # PostgreSQL). No account has a longer name: the same answer as a wrong password.
        username = self.fields["username"]
        if isinstance(username, forms.CharField) and username.max_length:
            username.validators.append(
                MaxLengthValidator(username.max_length, message=self.error_messages["invalid_login"])
            )

    error_messages = {
        # One message for unknown users and wrong passwords alike: no user enumeration.
        "invalid_login": _("That username and password do not match an account."),
        "inactive": _("That username and password do not match an account."),
    }


class ProfileForm(forms.ModelForm):
    """What a person may change about themselves: their name and email address."""

    class Meta:
        model = get_user_model()
        fields = ["first_name", "last_name", "email"]
        labels = {"first_name": _("First name"), "last_name": _("Last name"), "email": _("Email address")}
        help_texts = {"email": _("Where a password reset is sent.")}


class RegistrationForm(UserCreationForm):
    """Username, email address and a password Django's validators accept."""

    email = forms.EmailField(label=_("Email address"), help_text=_("We send a link there to confirm it is yours."))

    class Meta:
        model = get_user_model()
        fields = ("username", "email")
        field_classes = {"username": UsernameField}


class PasswordChangeForm(auth_forms.PasswordChangeForm):
    """Django's, with the current password checked through the authentication backends (not
    ``check_password``): wrong guesses count towards the lockout (django-axes) as at the
    sign-in, so a session left open is no way to guess the password."""

    def __init__(self, user: Any, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.request = request

    @method_decorator(sensitive_variables("old_password"))
    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        checked = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if checked is None or checked.pk != self.user.pk:
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password
