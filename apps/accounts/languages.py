"""Which language the people's pages speak.

LocaleMiddleware picks the browser's language (the language cookie, else Accept-Language,
else English). An authorization request may ask for other languages with ``ui_locales``
(OpenID Connect Core 3.1.2.1); its own pages follow that request: the consent screen and its
error pages (which read it from the query string), and the sign-in page it sends the person to
(whose ``next`` is the authorization request's URL, ``ui_locales`` included). Nothing is
stored: the next authorization request, or a page outside one, speaks the browser's language
again.
"""

from urllib.parse import parse_qs, urlsplit

from django.urls import reverse
from django.utils import translation

UI_LOCALES = "ui_locales"
# A longer value is not a list of a few language tags; it is not looked at.
MAX_UI_LOCALES_LENGTH = 200


def supported_language(ui_locales: str) -> str | None:
    """OpenID Connect Core 3.1.2.1: ``ui_locales`` is a space-separated list of BCP 47 tags,
    most preferred first. The first one we speak, case-insensitively and by its primary
    language ("nl-NL" and "NL-be" are served in "nl"), or None: values we do not speak are
    ignored, never an error (the spec asks for no error)."""
    if len(ui_locales) > MAX_UI_LOCALES_LENGTH:
        return None
    for tag in ui_locales.split():
        try:
            return translation.get_supported_language_variant(tag.lower())  # one of settings.LANGUAGES
        except LookupError:
            continue
    return None


def authorization_request_language(url: str) -> str | None:
    """The language the authorization request at ``url`` asks for with ``ui_locales``, if
    ``url`` is our own authorization endpoint (the sign-in page's ``next``), else None."""
    parts = urlsplit(url)
    if parts.path != reverse("oauth2_provider:authorize"):
        return None
    return supported_language(parse_qs(parts.query).get(UI_LOCALES, [""])[0])
