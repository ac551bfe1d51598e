from typing import Any

from django import template

from apps.console.consistency import visible_configuration_problems
from apps.console.dashboard import Dashboard, dashboard

register = template.Library()

BAR_WIDTH, CHART_HEIGHT = 18, 80
# One colour per grant type, in the order of Dashboard.grants (the admin's blues and greens,
# then contrasting ones); SVG presentation attributes, not inline styles.
PALETTE = ("#417690", "#79aec8", "#5b8a3c", "#c28f2c", "#8c5a9c", "#666666")


@register.inclusion_tag("admin/idp_dashboard.html", takes_context=True)
def idp_dashboard(context) -> dict[str, Any]:
    """The figures an operator may see: token counts with "view access token" (by audience
    also with "view API resource", as the token list's audience filter), exchanges, sign-ins
    and lockouts (audit events) with "view audit event", keys with "view signing key";
    nothing at all without any."""
    user = context["request"].user
    shown = {
        "tokens": user.has_perm("oauth.view_accesstoken"),
        "audiences": user.has_perm("oauth.view_accesstoken") and user.has_perm("resources.view_apiresource"),
        "events": user.has_perm("audit.view_auditevent"),
        "keys": user.has_perm("oauth.view_signingkey"),
    }
    if not any(shown.values()):
        return {"shown": shown}
    data = dashboard(tokens=shown["tokens"], events=shown["events"], keys=shown["keys"])
    return {"shown": shown, "data": data, **_chart(data)}


@register.inclusion_tag("admin/console/configuration_problems.html", takes_context=True)
def configuration_problems(context) -> dict[str, Any]:
    """Configurations that saved but cannot work, for operators who may view clients and
    exchange policies (apps/console/consistency.py)."""
    return {"configuration_problems": visible_configuration_problems(context["request"])}


def _chart(data: Dashboard) -> dict[str, Any]:
    """Tokens per hour as bars stacked by grant type, scaled to the busiest hour."""
    colours = {grant: PALETTE[index % len(PALETTE)] for index, (grant, _) in enumerate(data.grants)}
    peak = max([hour.tokens_issued for hour in data.hours] + [1])
    bars = []
    for index, hour in enumerate(data.hours):
        top, segments = CHART_HEIGHT, []
        for grant, label in data.grants:
            height = round(hour.tokens.get(grant, 0) / peak * CHART_HEIGHT)
            if height:
                top -= height
                segments.append({"y": top, "height": height, "colour": colours[grant], "label": label})
        bars.append({"hour": hour, "x": index * (BAR_WIDTH + 2), "segments": segments})
    return {
        "bars": bars,
        "legend": [(label, colours[grant]) for grant, label in data.grants],
        "width": len(bars) * (BAR_WIDTH + 2),
        "height": CHART_HEIGHT,
        "bar_width": BAR_WIDTH,
    }


@register.filter
def idp_age(age) -> str:
    """A key's age as "3 d 4 h"."""
    return f"{age.days} d {age.seconds // 3600} h"


@register.filter
def idp_get(mapping: dict, key: str) -> Any:
    """``mapping[key]``, or 0: a grant's count in one hour."""
    return mapping.get(key, 0)


@register.filter
def idp_total(data: Dashboard, name: str) -> int:
    """A figure added up over the 24 hours (a field of Hour)."""
    return data.total(name)
