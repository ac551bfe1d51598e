"""Facts about an HTTP request that every part of the IdP must agree on."""

from django.http import HttpRequest

from idp.conf import idp_settings


def client_address(request: HttpRequest) -> str:
    """The caller's address: the one the trusted proxy in front of us saw, if there is one
    (``IDP["TRUSTED_PROXY_COUNT"]``: proxies that append the address they saw to
    X-Forwarded-For). Rate limits and the sign-in lockout (``AXES_CLIENT_IP_CALLABLE``) both
    count by it, so behind a proxy neither counts every caller as the proxy."""
    proxies = idp_settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")
