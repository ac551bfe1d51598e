"""State our code keeps on oauthlib requests between validation, token building and storage."""

from typing import Any


def internal(request, name: str) -> Any:
    """State our code put on an oauthlib request, or None.

    Never ``getattr(request, name, None)``: oauthlib's Request answers unknown attributes
    from the request's own parameters, so a client could supply the value itself."""
    return vars(request).get(name)
