"""How figures read on the pages: an unknown or undisclosed figure never reads as 0."""
from decimal import Decimal

from django import template
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def eur(value, missing="—"):
    """€1,234,567 (whole euros); `missing` when there is no figure."""
    if value is None or value == "":
        return missing
    return f"€{Decimal(value):,.0f}"


@register.filter
def eur_short(value, missing="€0"):
    """€3.38 billion, €268.1 million: for headline figures (the full figure is in a title attribute)."""
    if value is None or value == "":
        return missing
    value = Decimal(value)
    for size, word in ((Decimal(10) ** 9, "billion"), (Decimal(10) ** 6, "million")):
        if abs(value) >= size:
            return f"€{value / size:,.2f} {word}"
    return f"€{value:,.0f}"


@register.filter
def percent(value):
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f}%"


@register.filter
def number(value):
    if value is None:
        return "—"
    value = Decimal(value)
    return f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"


@register.simple_tag
def quantity(pledge):
    """'12 aircraft', 'undisclosed' or '—' (none stated)."""
    if pledge.quantity_undisclosed:
        return mark_safe('<span class="undisclosed">undisclosed</span>')
    if pledge.quantity is None:
        return "—"
    return f"{number(pledge.quantity)} {pledge.unit}".strip()


@register.simple_tag
def value(pledge):
    """The EUR value, or why there is none: undisclosed (confidential or partial disclosure) or not valued."""
    if pledge.eur_value is not None:
        return eur(pledge.eur_value)
    if pledge.disclosure != "public":
        return mark_safe('<span class="undisclosed">undisclosed</span>')
    return "not valued"


@register.simple_tag
def example(flag):
    return mark_safe('<span class="example">example</span>') if flag else ""


@register.simple_tag(takes_context=True)
def query(context, **changes):
    """This page's filters and date with some changed: `?{% query as_of="" %}`."""
    return context["selection"].querystring(**changes)


@register.simple_tag
def status(pledge):
    """The pledge's stage as of the page's date when the list computed it, else its current one."""
    from tracker.commitments.models import Status

    return Status(getattr(pledge, "state_status", pledge.status)).label


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag
def announced(pledge):
    """The announcement date as precisely as the source gives it."""
    from django.utils.dateformat import format as date_format

    day, precision = pledge.announced_on, pledge.announced_precision
    if day is None:
        return "date unknown"
    if precision == "month":
        return date_format(day, "F Y")
    if precision == "year":
        return date_format(day, "Y")
    if precision == "until":
        return "on or before " + date_format(day, "j M Y")
    if precision == "unknown":
        return "date uncertain (about " + date_format(day, "M Y") + ")"
    return date_format(day, "j M Y")
