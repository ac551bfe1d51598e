from django import template

from apps.console.dashboard import dashboard

register = template.Library()

BAR_WIDTH, CHART_HEIGHT = 18, 80


@register.inclusion_tag("admin/idp_dashboard.html", takes_context=True)
def idp_dashboard(context) -> dict:
    """The figures an operator may see: token counts with "view access token", exchange counts
    with "view audit event", keys with "view signing key"; nothing at all without any."""
    user = context["request"].user
    shown = {
        "tokens": user.has_perm("oauth.view_accesstoken"),
        "exchanges": user.has_perm("audit.view_auditevent"),
        "keys": user.has_perm("oauth.view_signingkey"),
    }
    if not any(shown.values()):
        return {"shown": shown}
    data = dashboard()
    bars = []
    for index, bar in enumerate(data.bars):
        tokens = round(bar.tokens / data.peak * CHART_HEIGHT)
        refused = round(bar.exchanges_refused / data.peak * CHART_HEIGHT)
        bars.append(
            {
                "bar": bar,
                "x": index * (BAR_WIDTH + 2),
                "tokens_y": CHART_HEIGHT - tokens,
                "tokens": tokens,
                "refused_y": CHART_HEIGHT - tokens - refused,
                "refused": refused,
            }
        )
    return {
        "shown": shown,
        "data": data,
        "bars": bars,
        "width": len(bars) * (BAR_WIDTH + 2),
        "height": CHART_HEIGHT,
        "bar_width": BAR_WIDTH,
    }


@register.filter
def idp_age(age) -> str:
    """A key's age as "3 d 4 h"."""
    return f"{age.days} d {age.seconds // 3600} h"
