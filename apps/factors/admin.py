from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice

# django-otp's own admin shows and edits a device's TOTP secret (its ``key``) and offers a QR
# code of it: an operator who can view users must not be able to copy a person's second factor.
# Operators see a person's factors (never their secrets) and reset them on the user's page
# (apps/accounts/admin.py).
admin.site.unregister(TOTPDevice)
