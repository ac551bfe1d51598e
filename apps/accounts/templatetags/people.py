"""Template filters for the pages people see."""

from datetime import timedelta

from django import template
from django.utils.translation import gettext, ngettext

register = template.Library()


@register.filter
def in_words(duration: timedelta | int | None) -> str:
    """A wait as people say it: "15 minutes", "1 minute", "40 seconds" (not "PT15M")."""
    if duration is None or duration == "":
        return gettext("a few minutes")
    seconds = int(duration.total_seconds() if isinstance(duration, timedelta) else duration)
    if seconds >= 3600 and seconds % 3600 == 0:
        count = seconds // 3600
        return ngettext("%(count)d hour", "%(count)d hours", count) % {"count": count}
    if seconds >= 60:
        count = -(-seconds // 60)  # rounded up: never promise too short a wait
        return ngettext("%(count)d minute", "%(count)d minutes", count) % {"count": count}
    count = max(seconds, 1)
    return ngettext("%(count)d second", "%(count)d seconds", count) % {"count": count}


# (name, pattern) in the order that tells them apart: Edge and Opera say "Chrome" too, Chrome
# says "Safari", Android says "Linux".
_BROWSERS = (("Edge", "Edg/"), ("Opera", "OPR/"), ("Firefox", "Firefox/"), ("Chrome", "Chrome/"), ("Safari", "Safari/"))
_SYSTEMS = (
    ("Android", "Android"),
    ("iOS", "iPhone"),
    ("iPadOS", "iPad"),
    ("Windows", "Windows"),
    ("macOS", "Mac OS X"),
    ("ChromeOS", "CrOS"),
    ("Linux", "Linux"),
)


@register.filter
def device(user_agent: str) -> str:
    """A User-Agent header as people recognise their device: "Firefox on Windows"."""
    browser = next((name for name, mark in _BROWSERS if mark in user_agent), None)
    system = next((name for name, mark in _SYSTEMS if mark in user_agent), None)
    if browser and system:
        # Translators: a browser and the system it runs on, e.g. "Firefox on Windows".
        return gettext("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system or gettext("Unknown browser")
