"""The RFC 9207 ``iss`` parameter on redirects back to clients."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from idp.conf import idp_settings


def with_issuer(uri: str) -> str:
    """``uri`` with exactly one ``iss`` (ours) in its query; any other ``iss`` is dropped."""
    parts = urlsplit(uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
    query.append(("iss", idp_settings.ISSUER))
    return urlunsplit(parts._replace(query=urlencode(query)))
