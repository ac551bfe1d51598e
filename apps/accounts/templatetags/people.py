"""Template filters for the pages people see."""

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def in_words(duration: timedelta | int | None) -> str:
    """A wait as people say it: "15 minutes", "1 minute", "40 seconds" (not "PT15M")."""
    if duration is None or duration == "":
        return "a few minutes"
    seconds = int(duration.total_seconds() if isinstance(duration, timedelta) else duration)
    if seconds >= 3600 and seconds % 3600 == 0:
        count, unit = seconds // 3600, "hour"
    elif seconds >= 60:
        count, unit = -(-seconds // 60), "minute"  # rounded up: never promise too short a wait
    else:
        count, unit = max(seconds, 1), "second"
    return f"{count} {unit}{'' if count == 1 else 's'}"


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
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"
