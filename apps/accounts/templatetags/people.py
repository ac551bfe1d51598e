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
