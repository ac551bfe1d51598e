from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice

# django-otp's own admin shows and edits a device's TOTP secret (its ``key``) and offers a QR
# code of it: an operator who can view users must not be able to copy a person's second factor.
# Operators cannot see or reset a person's factors yet: that comes with the console's user page.
admin.site.unregister(TOTPDevice)
