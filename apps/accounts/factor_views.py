"""The second factor's pages: the sign-in's second step and step-up, and the security page
where a person enrols and removes factors. (Being built: issue 17.)"""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView


class SecondFactorView(TemplateView):
    """/accounts/login/second-factor/?next=...: the sign-in's second step (after a correct
    password, for a person who has a factor), or a step-up of a signed-in session."""

    template_name = "accounts/second_factor.html"


class SecurityView(LoginRequiredMixin, TemplateView):
    """/accounts/security/?next=...: the person's second factors."""

    template_name = "accounts/security.html"
